import type { Child } from './dom.ts';
import type { Agent, Profile } from './types.ts';

/** One input of the New Profile form. */
export interface FieldSpec {
  readonly name: string;
  readonly label: string;
  /** Rendered as a password input, never echoed back or shown after submit. */
  readonly secret: boolean;
  readonly required: boolean;
  readonly hint?: string;
  readonly kind?: 'text' | 'textarea' | 'select';
  readonly options?: readonly string[];
}

/**
 * An auth type of the New Profile form and of the profile page. The form lists the registered
 * types (a type picker appears once there is more than one); adding a type is one object here.
 */
export interface AuthType {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  /** The form's inputs for this agent. */
  fields(agent: Agent): readonly FieldSpec[];
  /**
   * The body fields for POST /api/create_agent_auth_profile besides `name` and `agent_id`
   * (`auth_data`, and for typed profiles `auth_type`/`auth_config`). Blank inputs are not given.
   */
  body(values: Readonly<Record<string, string>>, agent: Agent): Record<string, unknown>;
  /** Extra, non-secret details the profile page shows for a profile of this type. */
  details?(profile: Profile): readonly (readonly [string, Child])[];
}

/**
 * `custom` (today's only type): one input per input argument the agent declares; the values
 * become `auth_data` as typed. Secret arguments get password inputs.
 */
const custom: AuthType = {
  id: 'custom',
  label: 'Custom (agent input arguments)',
  description: "Credentials as key/value pairs; keys are the agent's input arguments.",
  fields: (agent) =>
    agent.input_args.map((a) => ({
      name: a.name,
      label: a.name,
      secret: a.secret,
      required: false,
      hint: [a.description, a.required ? 'required at run time: give it here or as a run parameter' : undefined].filter(Boolean).join(' · ') || undefined,
    })),
  body: (values) => ({ auth_data: Object.fromEntries(Object.entries(values).filter(([, v]) => v !== '')) }),
};

const registry: AuthType[] = [custom];

/** Adds an auth type (e.g. `bearer` once the typed-profile API exists); the first one is the default. */
export function registerAuthType(type: AuthType): void {
  if (registry.some((t) => t.id === type.id)) throw new Error(`auth type ${type.id} is registered twice`);
  registry.push(type);
}

export const authTypes = (): readonly AuthType[] => registry;

/** The type of a stored profile (`custom` when the API does not say). */
export const authTypeOf = (p: Profile): AuthType | undefined => registry.find((t) => t.id === (p.auth_type ?? 'custom'));
