// oidc-provider ships no types; the OIDC test uses it as a black-box issuer.
declare module 'oidc-provider';
