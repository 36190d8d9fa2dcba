-- BEAM Live in Neovim 0.7+, with the built-in LSP client and no plugins.
--
--   -- init.lua
--   require('beam-live').setup({ server = '/path/to/beam-live/dist/server.js' })
--
-- (put this file on 'runtimepath' as lua/beam-live.lua, or dofile() it and call setup on what
-- it returns). For .ex, .exs, .erl and .hrl buffers it starts `node dist/server.js --stdio`
-- once per project root (the folder with mix.exs or rebar.config), and gives:
--   :BeamLiveAttach node@host [cookie-file]   attach to a running node (beamLive/attach)
--   :BeamLiveDetach                           detach
--   :BeamLiveUpgrade                          upgrade now, as "Upgrade Now" does
-- A save upgrades the node (the server's default, beamLive.upgradeOnSave "always"); each
-- upgrade's one-line summary (beamLive/upgradeFinished) is echoed in the message area, and so
-- is each process the purge after it left in old code (beamLive/upgradePurged);
-- diagnostics come through vim.diagnostic, code lenses through vim.lsp.codelens.
local M = {}

local clients = {} -- root dir -> client id

local function root_of(path)
  local dir = vim.fn.fnamemodify(path, ':p:h')
  while dir and dir ~= '/' do
    if vim.fn.filereadable(dir .. '/mix.exs') == 1 or vim.fn.filereadable(dir .. '/rebar.config') == 1 then
      -- An umbrella's app: its top mix.exs wins.
      local up = vim.fn.fnamemodify(dir, ':h:h')
      if vim.fn.fnamemodify(dir, ':h:t') == 'apps' and vim.fn.filereadable(up .. '/mix.exs') == 1 then return up end
      return dir
    end
    dir = vim.fn.fnamemodify(dir, ':h')
  end
  return vim.fn.getcwd()
end

-- Only once the server is up for this buffer: Neovim 0.7's codelens.refresh() asked too early
-- never hears back, and then refuses every later refresh of that buffer.
local function refresh_lenses()
  for _, c in pairs(vim.lsp.buf_get_clients(0)) do
    if c.name == 'beam-live' and c.initialized then
      pcall(vim.lsp.codelens.refresh)
      return
    end
  end
end

local handlers = {
  ['beamLive/upgradeFinished'] = function(_, report)
    if report and report.summary then
      vim.api.nvim_echo({ { 'BEAM Live: ' .. report.summary, report.ok and 'None' or 'WarningMsg' } }, true, {})
    end
    refresh_lenses()
  end,
  -- The soft purge after an upgrade ended: who it left in old code (the next load kills them).
  ['beamLive/upgradePurged'] = function(_, p)
    if p and type(p.message) == 'string' then
      for line in p.message:gmatch('[^\n]+') do
        vim.api.nvim_echo({ { 'BEAM Live: ' .. line, 'WarningMsg' } }, true, {})
      end
    end
  end,
  ['workspace/codeLens/refresh'] = function()
    refresh_lenses()
    return vim.NIL
  end,
}

local function current_client()
  for _, c in pairs(vim.lsp.buf_get_clients(0)) do
    if c.name == 'beam-live' then return c end
  end
  vim.api.nvim_echo({ { 'BEAM Live: no BEAM Live server for this buffer (open an .ex or .erl file of the project)', 'ErrorMsg' } }, true, {})
end

local function request(method, params)
  local c = current_client()
  if not c then return end
  c.request(method, params, function(err, result)
    if err then
      vim.api.nvim_echo({ { 'BEAM Live: ' .. (err.message or vim.inspect(err)), 'ErrorMsg' } }, true, {})
    elseif result and result.node then
      vim.api.nvim_echo({ { 'BEAM Live: attached to ' .. result.node .. ' (OTP ' .. (result.otpRelease or '?') .. ')' } }, true, {})
    end
  end, 0)
end

function M.setup(opts)
  opts = opts or {}
  local here = debug.getinfo(1, 'S').source:sub(2)
  local server = opts.server or (vim.fn.fnamemodify(here, ':p:h:h:h') .. '/dist/server.js')
  local cmd = opts.cmd or { opts.node or 'node', server, '--stdio' }
  local group = vim.api.nvim_create_augroup('BeamLive', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
    group = group,
    pattern = { '*.ex', '*.exs', '*.erl', '*.hrl' },
    callback = function(args)
      local root = root_of(args.file)
      if not clients[root] or vim.lsp.get_client_by_id(clients[root]) == nil then
        clients[root] = vim.lsp.start_client({
          name = 'beam-live',
          cmd = cmd,
          root_dir = root,
          workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ':t') } },
          init_options = opts.settings,
          handlers = handlers,
          on_attach = function() refresh_lenses() end,
        })
      end
      vim.lsp.buf_attach_client(args.buf, clients[root])
    end,
  })
  vim.api.nvim_create_autocmd({ 'BufEnter', 'BufWritePost', 'InsertLeave' }, {
    group = group,
    pattern = { '*.ex', '*.exs', '*.erl', '*.hrl' },
    callback = refresh_lenses,
  })
  vim.api.nvim_create_user_command('BeamLiveAttach', function(a)
    request('beamLive/attach', { node = a.fargs[1], cookieFile = a.fargs[2] })
  end, { nargs = '+', desc = 'BEAM Live: attach to node@host [cookie-file]' })
  vim.api.nvim_create_user_command('BeamLiveDetach', function() request('beamLive/detach', vim.NIL) end, {})
  vim.api.nvim_create_user_command('BeamLiveUpgrade', function() request('beamLive/upgradeNow', vim.NIL) end, {})
end

return M
