// Types for the console's type check (tests/test_web_assets.py runs tsc --checkJs): the vendored
// socket.io-client bundle is used through `io()` and the Socket it returns, typed loosely here.
export function io(options?: Record<string, unknown>): any;
