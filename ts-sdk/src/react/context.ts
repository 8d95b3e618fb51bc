'use client';

import { createContext, createElement, type ReactNode } from 'react';
import type { FarMesh } from '@farlabs/sdk';

/** @internal */
export const FarMeshContext = createContext<FarMesh | undefined>(undefined);

export interface FarMeshProviderProps {
  client: FarMesh;
  children?: ReactNode;
}

/** Share one configured client with every `useFarMesh()` below it. */
export function FarMeshProvider({ client, children }: FarMeshProviderProps): ReactNode {
  return createElement(FarMeshContext.Provider, { value: client }, children);
}
