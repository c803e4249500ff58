// A record of the page's errors, for tests (only with ?test in the URL):
// window.pageErrors collects uncaught errors, unhandled rejections and
// console.error calls. A classic script, so it runs before the page's
// modules; browsers whose WebDriver has no console API (WebKit) are read
// through it.
if (new URLSearchParams(location.search).has('test')) {
  const errors = (window.pageErrors = []);
  const text = (x) => (x instanceof Error ? `${x.name}: ${x.message}` : String(x));
  addEventListener('error', (e) => errors.push(`error: ${e.message} (${e.filename}:${e.lineno})`));
  addEventListener('unhandledrejection', (e) => errors.push(`unhandled rejection: ${text(e.reason)}`));
  const consoleError = console.error.bind(console);
  console.error = (...args) => {
    errors.push(`console.error: ${args.map(text).join(' ')}`);
    consoleError(...args);
  };
}
