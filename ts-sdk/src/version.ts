/** The SDK's version, sent in the `User-Agent`-like `X-FarLabs-SDK` header. */
export const VERSION = '0.1.0';
