// The BEAM Live language server: LSP wiring only. Runs under the extension (IPC) or standalone
// for other editors: node dist/server.js --stdio.
import { fileURLToPath } from 'node:url';
import { createConnection, DidChangeConfigurationNotification, ProposedFeatures, TextDocumentSyncKind } from 'vscode-languageserver/node';
import {
  ApplyConfigRequest,
  AttachRequest,
  DetachRequest,
  IdleRequest,
  ModulesRequest,
  GenerateAppupParams,
  GenerateAppupRequest,
  PlanRequest,
  RehearseRequest,
  ProcessStateRequest,
  ProcessesRequest,
  ClusterRequest,
  RollbackParams,
  RollbackRequest,
  UpgradeNowRequest,
  LOG_LEVELS,
  LogLevelNotification,
} from './protocol';
import { LiveServer } from './lsp/liveServer';
import { serverLog, ServerLog } from './lsp/log';
import { rehearse } from './release/rehearse';
import { Settings } from './lsp/settings';

const connection = createConnection(ProposedFeatures.all);
let log: ServerLog = serverLog(connection, { levelled: false, level: 'info' });
let server: LiveServer | undefined;
let settings: Settings | undefined;

connection.onInitialize((params) => {
  const rootUri = params.workspaceFolders?.[0]?.uri ?? params.rootUri;
  const root = rootUri ? fileURLToPath(rootUri) : process.cwd();
  settings = new Settings(connection, !!params.capabilities.workspace?.configuration);
  settings.seed(params.initializationOptions);
  const init = (params.initializationOptions ?? {}) as { log?: string; logLevel?: string };
  log = serverLog(connection, { levelled: init.log === 'levelled', level: LOG_LEVELS.find((l) => l === init.logLevel) ?? 'info' });
  server = new LiveServer(connection, root, settings, log);
  const lensRefresh = !!params.capabilities.workspace?.codeLens?.refreshSupport;
  server.onLensesChanged = () => {
    if (lensRefresh) void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
  };
  return {
    capabilities: {
      textDocumentSync: { openClose: false, change: TextDocumentSyncKind.None, willSave: true, save: { includeText: false } },
      codeLensProvider: { resolveProvider: false },
    },
    serverInfo: { name: 'beam-live', version: '0.1.0' },
  };
});

connection.onInitialized(async () => {
  await settings!.refresh();
  void connection.client.register(DidChangeConfigurationNotification.type, { section: 'beamLive' }).catch(() => undefined);
});

connection.onNotification(LogLevelNotification.type, (p) => LOG_LEVELS.includes(p.level) && log.setLevel(p.level));

// The settings are read when they change, never on a save's path.
connection.onDidChangeConfiguration((p) => void settings?.refresh(p.settings));

connection.onWillSaveTextDocument(({ textDocument, reason }) => {
  if (server && textDocument.uri.startsWith('file:')) server.saves.willSave(fileURLToPath(textDocument.uri), reason);
});

connection.onDidSaveTextDocument(async ({ textDocument }) => {
  if (!server || !textDocument.uri.startsWith('file:')) return;
  const file = fileURLToPath(textDocument.uri);
  const verdict = server.saves.onSave(file);
  if (verdict === 'not-attached') server.noteSkippedSave('not-attached');
  else if (verdict === 'config') server.noteConfigSaved(file);
  else if (verdict === 'off' && server.attached) await server.checkWithoutUpgrade().catch((e) => log.warn(`check failed: ${(e as Error).message}`));
});

// A lens on a line the client cannot place (0 or less) would fail the whole answer: it goes on the first line.
connection.onCodeLens(({ textDocument }) =>
  (server?.lenses.get(textDocument.uri) ?? []).map((l) => ({
    range: { start: { line: Math.max(0, l.line - 1), character: 0 }, end: { line: Math.max(0, l.line - 1), character: 0 } },
    command: { title: l.title, command: '' },
  })),
);

const s = () => server!;
connection.onRequest(AttachRequest.type, (p) => s().attach(p));
connection.onRequest(DetachRequest.type, () => s().detach());
connection.onRequest(UpgradeNowRequest.type, () => s().upgrade('command'));
connection.onRequest(IdleRequest.type, () => s().saves.idle().then(() => null));
connection.onRequest(PlanRequest.type, () => s().plan());
connection.onRequest(ProcessesRequest.type, (p) => s().processes(p));
connection.onRequest(ClusterRequest.type, () => s().cluster());
connection.onRequest(ProcessStateRequest.type, (p) => s().processState(p));
// By method name: the params are optional, and other editors send none.
connection.onRequest(RollbackRequest.method, (p?: RollbackParams) => s().rollback(p ?? {}));
connection.onRequest(ModulesRequest.type, () => s().modules());
connection.onRequest(ApplyConfigRequest.type, (p) => s().applyConfig(p.apply));
connection.onRequest(RehearseRequest.type, (p) => rehearse(p));
connection.onRequest(GenerateAppupRequest.method, (p?: GenerateAppupParams | null) => s().generateAppups(p ?? {}));

connection.onShutdown(() => server?.dispose());
connection.listen();
