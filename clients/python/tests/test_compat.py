"""The package stays Python 3.9 compatible and standard library only, and its tests stay on loopback."""

import ast
import importlib.util
import os
import socket
import sysconfig
import unittest

from _support import HERE, OffMachineError

PACKAGE = os.path.join(os.path.dirname(HERE), "agent_vault")
# typing names added after Python 3.9.
NEWER_TYPING = {"NotRequired", "Required", "Self", "TypeAlias", "ParamSpec", "Concatenate", "TypeGuard", "LiteralString", "Never", "Unpack", "TypeVarTuple", "assert_never", "reveal_type", "dataclass_transform", "override"}


def sources(folder: str = PACKAGE):  # type: ignore[no-untyped-def]
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                yield name, f.read()


def is_stdlib(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.origin in (None, "built-in", "frozen"):
        return True
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    return os.path.realpath(spec.origin).startswith(stdlib + os.sep) and "site-packages" not in spec.origin


def annotations(tree: ast.AST):  # type: ignore[no-untyped-def]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if a is not None and a.annotation is not None:
                    yield a.annotation
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


class CompatTests(unittest.TestCase):
    def test_every_module_and_test_parses_as_python_3_9(self) -> None:
        for name, text in list(sources()) + list(sources(HERE)):
            with self.subTest(module=name):
                ast.parse(text, filename=name, feature_version=(3, 9))

    def test_no_union_operator_in_annotations_nor_newer_typing_names(self) -> None:
        for name, text in sources():
            tree = ast.parse(text)
            for ann in annotations(tree):
                for node in ast.walk(ann):
                    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                        self.fail("%s:%d uses X | Y in an annotation (Python 3.10+)" % (name, node.lineno))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "typing":
                    newer = {a.name for a in node.names} & NEWER_TYPING
                    self.assertEqual(newer, set(), "%s imports %s from typing (Python > 3.9)" % (name, newer))

    def test_only_the_standard_library_is_imported(self) -> None:
        seen = set()
        for name, text in sources():
            for node in ast.walk(ast.parse(text)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
                for mod in mods:
                    top = str(mod).split(".")[0]
                    seen.add(top)
                    self.assertTrue(is_stdlib(top), "%s imports %s, which is not in the standard library" % (name, mod))
        self.assertIn("urllib", seen)
        self.assertFalse(is_stdlib("agent_vault"))

    def test_the_package_ships_py_typed(self) -> None:
        self.assertTrue(os.path.isfile(os.path.join(PACKAGE, "py.typed")))


class NetworkGuardTests(unittest.TestCase):
    def test_a_connection_off_the_machine_is_refused_before_it_is_made(self) -> None:
        s = socket.socket()
        try:
            with self.assertRaises(OffMachineError):
                s.connect(("192.0.2.1", 80))
        finally:
            s.close()

    def test_a_name_lookup_is_refused(self) -> None:
        with self.assertRaises(OffMachineError):
            socket.getaddrinfo("example.com", 443)
        self.assertTrue(socket.getaddrinfo("127.0.0.1", 80))


if __name__ == "__main__":
    unittest.main()
