"""The webhook-signature verifier: valid, tampered, stale, malformed; the same MAC as the vault's."""

import time
import unittest

from _support import HERE  # noqa: F401 - puts the package on sys.path

from agent_vault import sign_payload, verify_signature

SECRET = "avs_test-secret"
# Made by the vault's own signPayload (shared/runs/signature.ts) for this secret, body and time:
# the Python verifier must accept exactly what the vault sends, non-ASCII bytes included.
VAULT_BODY = '{"session_id":"s-1","agent_id":"a","parameters":{"pw":"\u00e9 \u2713"},"session":null}'
VAULT_T = 1765000000
VAULT_HEADER = "t=1765000000,v1=cddc7738822f77be181eb6f3f5b30077b5d639a45a92085a4137cf6a758d0a77"


class SignatureTests(unittest.TestCase):
    def test_accepts_what_the_vault_signs(self) -> None:
        self.assertTrue(verify_signature(SECRET, VAULT_BODY, VAULT_HEADER, now=VAULT_T + 10))
        self.assertTrue(verify_signature(SECRET, VAULT_BODY.encode("utf-8"), VAULT_HEADER, now=VAULT_T))
        self.assertEqual(sign_payload(SECRET, VAULT_BODY, VAULT_T), VAULT_HEADER)

    def test_a_fresh_signature_verifies(self) -> None:
        body = b'{"session_id":"s","agent_id":"a","parameters":{},"session":null}'
        self.assertTrue(verify_signature(SECRET, body, sign_payload(SECRET, body)))

    def test_a_tampered_body_is_refused(self) -> None:
        tampered = VAULT_BODY.replace('"a"', '"b"')
        self.assertFalse(verify_signature(SECRET, tampered, VAULT_HEADER, now=VAULT_T))
        self.assertFalse(verify_signature(SECRET, VAULT_BODY + " ", VAULT_HEADER, now=VAULT_T))

    def test_a_tampered_mac_timestamp_or_secret_is_refused(self) -> None:
        flipped = VAULT_HEADER[:-1] + ("0" if VAULT_HEADER[-1] != "0" else "1")
        self.assertFalse(verify_signature(SECRET, VAULT_BODY, flipped, now=VAULT_T))
        moved = VAULT_HEADER.replace("t=1765000000", "t=1765000001")
        self.assertFalse(verify_signature(SECRET, VAULT_BODY, moved, now=VAULT_T))
        self.assertFalse(verify_signature("avs_other-secret", VAULT_BODY, VAULT_HEADER, now=VAULT_T))
        self.assertFalse(verify_signature("", VAULT_BODY, VAULT_HEADER, now=VAULT_T))

    def test_a_stale_or_future_signature_is_refused(self) -> None:
        self.assertTrue(verify_signature(SECRET, VAULT_BODY, VAULT_HEADER, now=VAULT_T + 300))
        self.assertFalse(verify_signature(SECRET, VAULT_BODY, VAULT_HEADER, now=VAULT_T + 301))
        self.assertFalse(verify_signature(SECRET, VAULT_BODY, VAULT_HEADER, now=VAULT_T - 301))
        self.assertTrue(verify_signature(SECRET, VAULT_BODY, VAULT_HEADER, now=VAULT_T + 3000, tolerance_seconds=3600))
        old = sign_payload(SECRET, VAULT_BODY, int(time.time()) - 600)
        self.assertFalse(verify_signature(SECRET, VAULT_BODY, old))

    def test_malformed_headers_are_refused(self) -> None:
        mac = VAULT_HEADER.split("v1=")[1]
        for header in (None, "", "v1=" + mac, "t=1765000000", "t=abc,v1=" + mac, "t=1765000000,v1=" + mac.upper(), "t=1765000000,v1=" + mac[:-2], "t=1765000000;v1=" + mac):
            with self.subTest(header=header):
                self.assertFalse(verify_signature(SECRET, VAULT_BODY, header, now=VAULT_T))

    def test_any_valid_candidate_among_several_v1_values_verifies(self) -> None:
        header = "t=1765000000,v1=" + "0" * 64 + "," + VAULT_HEADER.split(",")[1]
        self.assertTrue(verify_signature(SECRET, VAULT_BODY, header, now=VAULT_T))


if __name__ == "__main__":
    unittest.main()
