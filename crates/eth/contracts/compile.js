// Compiles TestToken.sol with solc-js (standard JSON input, optimizer on) and writes, next to it,
// TestToken.bin (creation bytecode, hex) and TestToken.source-keccak256 (the source's keccak-256 as solc
// recorded it in the contract metadata). Usage: node compile.js <dir where `npm install solc@VERSION` ran>
'use strict';
const fs = require('fs');
const path = require('path');

const solcDir = process.argv[2];
if (!solcDir) {
  console.error('usage: node compile.js <dir with node_modules/solc>');
  process.exit(2);
}
const solc = require(path.resolve(solcDir, 'node_modules', 'solc'));
const here = __dirname;
const file = 'TestToken.sol';
const input = {
  language: 'Solidity',
  sources: { [file]: { content: fs.readFileSync(path.join(here, file), 'utf8') } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: { [file]: { TestToken: ['evm.bytecode.object', 'metadata'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);
const contract = output.contracts[file].TestToken;
const metadata = JSON.parse(contract.metadata);
fs.writeFileSync(path.join(here, 'TestToken.bin'), contract.evm.bytecode.object + '\n');
fs.writeFileSync(path.join(here, 'TestToken.source-keccak256'), metadata.sources[file].keccak256 + '\n');
console.log('solc', solc.version());
console.log('source keccak256', metadata.sources[file].keccak256);
console.log('bytecode bytes', contract.evm.bytecode.object.length / 2);
