'use client';
/** `@farlabs/sdk/react`: the `useFarMesh` hook and its optional context provider. */

export { useFarMesh, type UseFarMeshOptions, type UseFarMeshResult } from './use-far-mesh.js';
export { FarMeshProvider, type FarMeshProviderProps } from './context.js';
