#!/usr/bin/env node
// Compile the payout contracts with solc-js (standard JSON) and write their ABI and bytecode to
// src/farlabs_server/payouts/artifacts/<Contract>.json, which are committed.
//
//   node compile.mjs           write the artifacts
//   node compile.mjs --check   recompile and compare with the committed artifacts (exit 1 on mismatch)
//
// `solc` is resolved like any Node package, from node_modules folders upward from this file
// (the repo root's, after `npm install` there), or from NODE_PATH.
// Exit codes: 0 ok, 1 mismatch or compile error, 2 bad usage, 3 solc not installed, 4 wrong solc version.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SOLC_VERSION = "0.8.37";
const SOURCES = ["FarToken.sol", "FarBatchPayout.sol"];
const SETTINGS = {
  evmVersion: "prague", // the newest fork py-evm (the in-process local chain) runs
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const here = dirname(fileURLToPath(import.meta.url));
const artifactsDir = join(here, "..", "src", "farlabs_server", "payouts", "artifacts");

function loadSolc() {
  const require = createRequire(import.meta.url);
  try {
    return require("solc");
  } catch (error) {
    if (error && error.code === "MODULE_NOT_FOUND") {
      console.error(`solc-js ${SOLC_VERSION} is not installed: run \`npm install\` at the repo root (or npm install solc@${SOLC_VERSION}).`);
      process.exit(3);
    }
    throw error;
  }
}

function compile(solc) {
  const version = solc.version();
  if (!version.startsWith(`${SOLC_VERSION}+`)) {
    console.error(`solc-js ${SOLC_VERSION} is required (the artifacts depend on it); found ${version}.`);
    process.exit(4);
  }
  const sources = {};
  for (const name of SOURCES) sources[name] = { content: readFileSync(join(here, name), "utf8") };
  const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings: SETTINGS })));
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  for (const e of output.errors ?? []) console.error(e.formattedMessage);
  if (errors.length > 0) process.exit(1);

  const artifacts = {};
  for (const sourceName of SOURCES) {
    const contractName = sourceName.replace(/\.sol$/, "");
    const contract = output.contracts[sourceName][contractName];
    const artifact = {
      contractName,
      sourceName,
      sourceSha256: createHash("sha256").update(sources[sourceName].content).digest("hex"),
      compiler: { name: "solc-js", version, evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer },
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
      deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
    };
    artifacts[`${contractName}.json`] = `${JSON.stringify(artifact, null, 2)}\n`;
  }
  return artifacts;
}

function main(argv) {
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    console.error(`unknown argument(s): ${unknown.join(" ")}\nusage: node compile.mjs [--check]`);
    process.exit(2);
  }
  const artifacts = compile(loadSolc());
  const stale = [];
  for (const [file, text] of Object.entries(artifacts)) {
    const path = join(artifactsDir, file);
    const shown = relative(process.cwd(), path);
    if (check) {
      if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(shown);
    } else {
      mkdirSync(artifactsDir, { recursive: true });
      writeFileSync(path, text);
      console.log(`wrote ${shown}`);
    }
  }
  if (stale.length > 0) {
    console.error(`artifacts do not match the contract sources: ${stale.join(", ")}\nrun: node reference-server/contracts/compile.mjs`);
    process.exit(1);
  }
  if (check) console.log(`artifacts match the sources (${Object.keys(artifacts).length} contracts, solc ${SOLC_VERSION})`);
}

main(process.argv.slice(2));
