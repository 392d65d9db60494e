/** Routes under this prefix stream their bodies: no body parser runs for them. */
export const PROXY_PREFIX = '/api/v1/proxy/';
