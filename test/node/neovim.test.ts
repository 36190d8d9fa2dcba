// The language server driven by Neovim for real: Debian's nvim, headless, its built-in LSP
// client and editors/nvim/beam-live.lua, no plugins. Attach, save a GenServer, and the node
// upgrades; the code lens, a process left in old code and a compile error's diagnostic as
// Neovim reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { which } from '../../server/runtime/erlangBuild';
import { loopbackEnv, ROOT, run, stateOf } from '../helpers';
import { driveEditor } from './editors';
import { COUNTER } from './sources';

const skip = which('nvim') ? false : 'Neovim is not installed (apt-get install neovim): the Neovim test is skipped';

test('Neovim: :BeamLiveAttach, a save upgrades the node, the lens and a diagnostic show through vim.lsp', { skip, timeout: 240_000 }, () =>
  driveEditor<{ failed?: string; messages: string; lenses?: string[]; lens?: string; diagnostic?: { line: number; message: string } }>(
    'nvim',
    (e) =>
      run('nvim', ['--headless', '-u', 'NONE', '-i', 'NONE', '-n', '-c', `luafile ${join(ROOT, 'test', 'nvim', 'drive.lua')}`], {
        cwd: e.node.dir,
        timeoutMs: 220_000,
        env: loopbackEnv({
          BEAM_LIVE_NVIM_PLUGIN: join(ROOT, 'editors', 'nvim', 'beam-live.lua'),
          BEAM_LIVE_SERVER: join(ROOT, 'dist', 'server.js'),
          BEAM_LIVE_NVIM_FILE: join(e.node.dir, COUNTER),
          BEAM_LIVE_NVIM_NODE: e.node.name,
          BEAM_LIVE_NVIM_COOKIE: e.node.cookieFile,
          BEAM_LIVE_NVIM_V2: e.v2,
          BEAM_LIVE_NVIM_BROKEN: e.broken,
          BEAM_LIVE_NVIM_LOOPER_FILE: e.looperFile,
          BEAM_LIVE_NVIM_LOOPER: e.looper,
          BEAM_LIVE_NVIM_OUT: e.outFile,
        }),
      }),
    async (out, node) => {
      assert.equal(out.failed, undefined, `${out.failed}\n${out.messages}\nlenses: ${JSON.stringify(out.lenses)}`);
      // The one-line summary in the message area, the lens, the diagnostic.
      assert.match(out.messages, /BEAM Live: attached to nvim_\w+@localhost/);
      assert.match(out.messages, /BEAM Live: Upgraded 1 module, 1 process/);
      assert.equal(out.lens, '1 live process · running vsn "2" · saved vsn "2"');
      // The Looper's save: its process stays in old code, and the purge's message says so.
      assert.match(out.messages, /BEAM Live: still in old code: sample_looper <[\d.]+> \(SampleApp\.Looper\) — the next load of it kills this process/);
      assert.equal(out.diagnostic?.line, 6);
      assert.match(out.diagnostic?.message ?? '', /undefined function missing_fun\/0/);
      // And on the node itself: Counter's code_change ran with the old vsn.
      assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), /from_vsn => <<"1">>/);
    },
  ),
);
