/** DI tokens for values made before Nest starts. */
export const APP_CONFIG = Symbol('APP_CONFIG');
/** Writes a line for a human at the console (the initial admin password); tests capture it. */
export const ANNOUNCE = Symbol('ANNOUNCE');
export type Announce = (message: string) => void;
