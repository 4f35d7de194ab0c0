/** The environment variables the library reads, by option name. */
const ENV_NAMES = {
  clientId: 'WPS_CLIENT_ID',
  clientSecret: 'WPS_CLIENT_SECRET',
  redirectUri: 'WPS_REDIRECT_URI',
} as const;

/** An option the environment can supply. */
export type EnvOption = keyof typeof ENV_NAMES;

/**
 * `options` as a plain record, with each of `names` that is `undefined` there taken from the environment
 * (`WPS_CLIENT_ID`, `WPS_CLIENT_SECRET`, `WPS_REDIRECT_URI`) when set and not empty. The one place the library
 * reads `process.env`; every factory calls it before validating.
 */
export function withEnvDefaults(
  options: object | undefined,
  names: readonly EnvOption[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const input: Record<string, unknown> = { ...options };
  for (const name of names) {
    const value = env[ENV_NAMES[name]];
    if (input[name] === undefined && value) input[name] = value;
  }
  return input;
}
