// The built package, imported as ESM by its published name.
import * as sdk from '@farlabs/sdk';
import * as react from '@farlabs/sdk/react';
import { check } from './check.mjs';

await check(sdk, react, 'esm');
