// The built package, required as CommonJS by its published name.
const sdk = require('@farlabs/sdk');
const react = require('@farlabs/sdk/react');

if (!require.resolve('@farlabs/sdk').endsWith('.cjs')) throw new Error('require() did not pick the CJS build');
import('./check.mjs').then(({ check }) => check(sdk, react, 'cjs')).catch((error) => {
  console.error(error);
  process.exit(1);
});
