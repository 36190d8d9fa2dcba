// The language server driven by Emacs for real: Debian's Emacs 28 in batch, with Debian's
// elpa-eglot and editors/emacs/beam-live.el. Attach, save a GenServer, and the node upgrades;
// a process left in old code is said; a compile error reaches flymake. (eglot 1.9 has no code
// lenses.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { which } from '../../server/runtime/erlangBuild';
import { loopbackEnv, ROOT, run, stateOf } from '../helpers';
import { driveEditor } from './editors';
import { COUNTER } from './sources';

const ELPA = '/usr/share/emacs/site-lisp/elpa';
const eglot = existsSync(ELPA) ? readdirSync(ELPA).find((d) => d.startsWith('eglot-')) : undefined;
const skip = !which('emacs') ? 'Emacs is not installed (apt-get install emacs-nox elpa-eglot): the Emacs test is skipped' : !eglot ? 'eglot is not installed (apt-get install elpa-eglot): the Emacs test is skipped' : false;

test('Emacs + eglot: beam-live-attach, a save upgrades the node, a compile error reaches flymake', { skip, timeout: 240_000 }, () =>
  driveEditor<{ failed: string | null; messages: string; diagnostics: Array<{ line: number; type: string; text: string }> | null }>(
    'emacs',
    (e) =>
      run(
        'emacs',
        ['--batch', '-Q', '--eval', `(progn (add-to-list 'load-path "${join(ELPA, eglot!)}") (setq beam-live-server "${join(ROOT, 'dist', 'server.js')}"))`, '-l', join(ROOT, 'editors', 'emacs', 'beam-live.el'), '-l', join(ROOT, 'test', 'emacs', 'drive.el')],
        {
          cwd: e.node.dir,
          timeoutMs: 220_000,
          env: loopbackEnv({
            BEAM_LIVE_EMACS_FILE: join(e.node.dir, COUNTER),
            BEAM_LIVE_EMACS_NODE: e.node.name,
            BEAM_LIVE_EMACS_COOKIE: e.node.cookieFile,
            BEAM_LIVE_EMACS_V2: e.v2,
            BEAM_LIVE_EMACS_BROKEN: e.broken,
            BEAM_LIVE_EMACS_LOOPER_FILE: e.looperFile,
            BEAM_LIVE_EMACS_LOOPER: e.looper,
            BEAM_LIVE_EMACS_OUT: e.outFile,
          }),
        },
      ),
    async (out, node) => {
      assert.equal(out.failed, null, `${out.failed}\n${out.messages}`);
      assert.match(out.messages, /BEAM Live: attached to emacs_\w+@localhost \(OTP \d+\)/);
      assert.match(out.messages, /BEAM Live: Upgraded 1 module, 1 process/);
      assert.match(out.messages, /BEAM Live: still in old code: sample_looper <[\d.]+> \(SampleApp\.Looper\) — the next load of it kills this process/);
      const error = out.diagnostics?.find((d) => d.type === 'eglot-error');
      assert.equal(error?.line, 7);
      assert.match(error?.text ?? '', /undefined function missing_fun\/0/);
      assert.match(await stateOf(node, 'Elixir.SampleApp.Counter'), /from_vsn => <<"1">>/);
    },
  ),
);
