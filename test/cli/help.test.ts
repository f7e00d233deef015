/** Every command explains itself, and a mistake on the command line is one line and exit code 1. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from './run-cli.ts';

const commands = [
  'start',
  'migrate',
  'create-user',
  'import-users',
  'token',
  'admin-token',
  'backup',
  'restore',
];

const test = suite('cli: help');

test('--help lists every command', async () => {
  const result = await runCli(['--help'], {});
  assert.is(result.code, 0, result.stderr);
  for (const command of commands) assert.match(result.stdout, new RegExp(`^  ${command}\\b`, 'm'));
});

test('each command has its own --help', async () => {
  const results = await Promise.all(commands.map((command) => runCli([command, '--help'], {})));
  results.forEach((result, index) => {
    assert.is(result.code, 0, result.stderr);
    assert.match(result.stdout, `Usage: microchatter ${commands[index]}`);
  });
  const importHelp = results[commands.indexOf('import-users')]?.stdout ?? '';
  assert.match(importHelp, '--batch-size');
  assert.match(results[commands.indexOf('token')]?.stdout ?? '', '--ttl');
});

test('an unknown command, a missing argument or a bad option: exit 1, no stack trace', async () => {
  for (const args of [['frobnicate'], ['create-user'], ['token', 'ann', '--ttl', 'soon']]) {
    const result = await runCli(args, {});
    assert.is(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /error: /);
    assert.not.match(result.stderr, /\n\s+at /);
  }
});

test('a bad setting is one line naming it', async () => {
  const result = await runCli(['admin-token'], { MICROCHATTER_ADMIN_TOKEN: 'short' });
  assert.is(result.code, 1);
  assert.match(result.stderr, /^microchatter: .*MICROCHATTER_ADMIN_TOKEN/);
  assert.is(result.stderr.trim().split('\n').length, 1, result.stderr);
});

test.run();
