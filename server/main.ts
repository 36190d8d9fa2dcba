// The BEAM Live language server. The foundation issue only stands it up; save handling,
// diagnostics and the beamLive/* messages arrive with the editor issue.
import { createConnection, ProposedFeatures, TextDocumentSyncKind } from 'vscode-languageserver/node';

const connection = createConnection(ProposedFeatures.all);

connection.onInitialize(() => ({
  capabilities: {
    textDocumentSync: { openClose: false, save: { includeText: false }, change: TextDocumentSyncKind.None },
  },
  serverInfo: { name: 'beam-live' },
}));

connection.listen();
