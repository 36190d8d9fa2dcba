-- Drives Neovim headless through BEAM Live's configuration, as a user would: open the
-- GenServer, :BeamLiveAttach, edit and :write, read the lens, save the Looper, read the
-- diagnostics. What it saw
-- goes to $BEAM_LIVE_NVIM_OUT as JSON; the test checks the node itself.
local env = function(k) return os.getenv(k) end
local out = { steps = {} }

local function finish()
  out.messages = vim.fn.execute('messages')
  local f = io.open(env('BEAM_LIVE_NVIM_OUT'), 'w')
  f:write(vim.fn.json_encode(out))
  f:close()
  vim.cmd('qa!')
end

local function step(name, ms, cond)
  local ok = vim.wait(ms, cond, 50)
  table.insert(out.steps, { name = name, ok = ok })
  if not ok then
    out.failed = name
    finish()
  end
end

local function set_text(path)
  local lines = vim.fn.readfile(path)
  vim.api.nvim_buf_set_lines(0, 0, -1, false, lines)
  vim.cmd('write')
end

local function messages() return vim.fn.execute('messages') end

dofile(env('BEAM_LIVE_NVIM_PLUGIN')).setup({ server = env('BEAM_LIVE_SERVER') })
vim.cmd('edit ' .. vim.fn.fnameescape(env('BEAM_LIVE_NVIM_FILE')))

step('the server started for the buffer', 30000, function()
  local c = vim.lsp.buf_get_clients(0)[1]
  return c ~= nil and c.server_capabilities ~= nil and c.initialized
end)

vim.cmd('BeamLiveAttach ' .. env('BEAM_LIVE_NVIM_NODE') .. ' ' .. env('BEAM_LIVE_NVIM_COOKIE'))
step('attached', 30000, function() return messages():find('BEAM Live: attached to', 1, true) ~= nil end)

set_text(env('BEAM_LIVE_NVIM_V2'))
step('the save upgraded the node', 60000, function() return messages():find('BEAM Live: Upgraded', 1, true) ~= nil end)

step('the code lens follows the node', 30000, function()
  vim.lsp.codelens.refresh()
  vim.wait(200)
  out.lenses = {}
  -- Neovim 0.7 keeps lenses by buffer number: 0 does not stand for the current one here.
  for _, l in ipairs(vim.lsp.codelens.get(vim.api.nvim_get_current_buf())) do
    table.insert(out.lenses, l.command and l.command.title or vim.inspect(l))
    if l.command and l.command.title:find('running vsn "2"', 1, true) then
      out.lens = l.command.title
      return true
    end
  end
  return false
end)

-- The Looper's process loops in a local call: it stays in old code, and the purge says so.
local counter = vim.api.nvim_get_current_buf()
vim.cmd('edit ' .. vim.fn.fnameescape(env('BEAM_LIVE_NVIM_LOOPER_FILE')))
set_text(env('BEAM_LIVE_NVIM_LOOPER'))
step('the purge names the process left in old code', 60000, function() return messages():find('BEAM Live: still in old code', 1, true) ~= nil end)
vim.api.nvim_set_current_buf(counter)

set_text(env('BEAM_LIVE_NVIM_BROKEN'))
step('a compile error shows as a diagnostic', 60000, function()
  local d = vim.diagnostic.get(0, { severity = vim.diagnostic.severity.ERROR })
  if #d > 0 then
    out.diagnostic = { line = d[1].lnum, message = d[1].message, source = d[1].source }
    return true
  end
  return false
end)

finish()
