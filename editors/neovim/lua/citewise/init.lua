-- citewise for Neovim: starts the citewise language server for LaTeX, BibTeX and Markdown
-- buffers and shows its `citewise/suggestions` notifications. Works on Neovim 0.7 (Debian 12)
-- and later: vim.lsp.start where it exists (0.8+), else start_client + buf_attach_client.
local M = {}

M.filetypes = { "tex", "plaintex", "bib", "markdown", "pandoc", "quarto", "rmd" }

-- Latest suggestions per buffer: { range = {...}, items = { {key, title, authors, year, score, inBib}, ... } }
M.suggestions = {}

local config = {
  cmd = { "python3", "-m", "citewise", "serve" },
  settings = {},
  root_markers = { ".git", ".latexmkrc", "latexmkrc", "_quarto.yml", ".citewise" },
}

local clients_by_root = {}

local function root_dir(bufnr)
  local file = vim.api.nvim_buf_get_name(bufnr)
  local dir = vim.fn.fnamemodify(file, ":p:h")
  for _, marker in ipairs(config.root_markers) do
    local marker_dir = vim.fn.finddir(marker, dir .. ";")
    if marker_dir ~= "" then
      return vim.fn.fnamemodify(marker_dir, ":p:h:h")
    end
    local marker_file = vim.fn.findfile(marker, dir .. ";")
    if marker_file ~= "" then
      return vim.fn.fnamemodify(marker_file, ":p:h")
    end
  end
  return dir
end

local function on_suggestions(_, result, ctx)
  if not result or not result.uri then
    return
  end
  local bufnr = vim.uri_to_bufnr(result.uri)
  M.suggestions[bufnr] = { range = result.range, items = result.items or {}, client_id = ctx.client_id }
end

-- The files a WorkspaceEdit changes or creates, as URIs.
local function edited_uris(edit)
  local uris = {}
  for uri in pairs((edit and edit.changes) or {}) do
    table.insert(uris, uri)
  end
  for _, change in ipairs((edit and edit.documentChanges) or {}) do
    table.insert(uris, change.textDocument and change.textDocument.uri or change.uri)
  end
  return uris
end

-- Applies the server's edit as Neovim does, then writes the .bib files it changed that had no
-- unsaved changes before: a cited paper's entry is then on disk for the next LaTeX build.
-- Drafts are left for the user to write.
local function apply_edit_writing_bibs(err, result, ctx, handler_config)
  local clean_bibs = {}
  for _, uri in ipairs(edited_uris(result and result.edit)) do
    local bufnr = vim.fn.bufnr(vim.uri_to_fname(uri))
    if uri:match("%.bib$") and (bufnr == -1 or not vim.bo[bufnr].modified) then
      table.insert(clean_bibs, uri)
    end
  end
  local response = vim.lsp.handlers["workspace/applyEdit"](err, result, ctx, handler_config)
  if response and response.applied then
    for _, uri in ipairs(clean_bibs) do
      vim.api.nvim_buf_call(vim.uri_to_bufnr(uri), function()
        vim.cmd("silent write")
      end)
    end
  end
  return response
end

-- The clients attached to a buffer: vim.lsp.get_clients on Neovim 0.10+, buf_get_clients before.
local function buffer_clients(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr })
  end
  return vim.lsp.buf_get_clients(bufnr)
end

local function attached_client(bufnr)
  for _, client in pairs(buffer_clients(bufnr)) do
    if client.name == "citewise" then
      return client
    end
  end
  return nil
end

-- The complete-items (|complete-items|) for the server's completion items, in the server's order.
local function complete_items(items)
  table.sort(items, function(a, b)
    return (a.sortText or a.label) < (b.sortText or b.label)
  end)
  return vim.tbl_map(function(item)
    local documentation = type(item.documentation) == "table" and item.documentation.value or item.documentation
    return {
      word = item.textEdit and item.textEdit.newText or item.insertText or item.label,
      abbr = item.label,
      menu = item.detail or "",
      info = documentation or "",
      icase = 1,
      dup = 1,
      empty = 1,
      user_data = { nvim = { lsp = { completion_item = item } } },
    }
  end, items)
end

-- The byte column of an LSP `character` in `line` (the helper moved between Neovim versions).
local function byte_column(line, character, encoding)
  if vim.lsp.util._str_byteindex_enc then
    return vim.lsp.util._str_byteindex_enc(line, character, encoding)
  end
  return vim.str_byteindex(line, encoding, character, false)
end

-- The omnifunc the setup installs (<C-x><C-o>). Neovim's own vim.lsp.omnifunc (before 0.11) keeps
-- only items whose inserted key starts with the typed text, case-sensitively, so `\cite{attention`
-- or `[@vaswani` would find nothing; citewise matches authors, title words and years itself and
-- ranks the papers, so this one shows every item in the server's order, replacing the typed key.
function M.omnifunc(findstart, _)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = attached_client(bufnr)
  if findstart == 0 then
    return {}
  end
  if not client then
    vim.notify("citewise: the server is still starting", vim.log.levels.INFO)
    return -3
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local line = vim.api.nvim_get_current_line()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  client.request("textDocument/completion", params, function(err, result)
    if err or not result or vim.fn.mode() ~= "i" or vim.api.nvim_win_get_cursor(0)[1] ~= cursor[1] then
      return
    end
    local items = result.items or result
    local edit = items[1] and items[1].textEdit
    local range = edit and (edit.range or edit.replace) -- a TextEdit or an InsertReplaceEdit
    local start = range and byte_column(line, range.start.character, client.offset_encoding)
      or vim.fn.match(line:sub(1, cursor[2]), "\\k*$")
    vim.fn.complete(start + 1, complete_items(items))
  end, bufnr)
  return -2
end

-- An accepted item's additionalTextEdits (a bibliography declaration in a draft that has none),
-- which vim.fn.complete() cannot apply itself. The .bib entry of a paper from the index comes from
-- the server on its own, through workspace/applyEdit.
local function apply_additional_edits(bufnr)
  vim.api.nvim_create_autocmd("CompleteDone", {
    group = vim.api.nvim_create_augroup("citewise_completion_" .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      local item = vim.tbl_get(vim.v.completed_item, "user_data", "nvim", "lsp", "completion_item")
      local client = attached_client(bufnr)
      if item and client and item.additionalTextEdits and #item.additionalTextEdits > 0 then
        vim.lsp.util.apply_text_edits(item.additionalTextEdits, bufnr, client.offset_encoding)
      end
    end,
  })
end

M.omnifunc_name = "v:lua.require'citewise'.omnifunc"

-- Set before the server has started, so that <C-x><C-o> never meets an empty 'omnifunc' (E764).
function M.prepare_buffer(bufnr)
  vim.bo[bufnr].omnifunc = M.omnifunc_name
  apply_additional_edits(bufnr)
end

-- Keys Neovim 0.10+ (K) and 0.11+ (gra, grn, grr) map once a server attaches; mapped here for
-- the versions before, where K would open a man page.
local function map_lsp_keys(bufnr)
  local function map(modes, lhs, rhs, desc)
    vim.keymap.set(modes, lhs, rhs, { buffer = bufnr, desc = desc })
  end
  if vim.fn.has("nvim-0.10") == 0 then
    map("n", "K", vim.lsp.buf.hover, "citewise: hover")
  end
  if vim.fn.has("nvim-0.11") == 0 then
    map({ "n", "v" }, "gra", vim.lsp.buf.code_action, "citewise: code actions (Cite: …)")
    map("n", "grn", vim.lsp.buf.rename, "citewise: rename key")
    map("n", "grr", vim.lsp.buf.references, "citewise: references")
  end
  vim.bo[bufnr].tagfunc = "v:lua.vim.lsp.tagfunc"
end

-- The client handlers and the per-buffer setup the server expects; `setup()` uses them, and an
-- nvim-lspconfig configuration can too.
M.handlers = { ["citewise/suggestions"] = on_suggestions, ["workspace/applyEdit"] = apply_edit_writing_bibs }

function M.on_attach(_, bufnr)
  M.prepare_buffer(bufnr)
  map_lsp_keys(bufnr)
end

local function client_config(root)
  -- An empty Lua table would go out as a JSON array; the server expects an object.
  local settings = next(config.settings) and config.settings or vim.empty_dict()
  return {
    name = "citewise",
    cmd = config.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = settings,
    settings = { citewise = settings },
    handlers = M.handlers,
    on_attach = function(client, bufnr)
      M.on_attach(client, bufnr)
      if config.on_attach then
        config.on_attach(client, bufnr)
      end
    end,
  }
end

-- Starts (or reuses) the server for this buffer's project and attaches the buffer.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.api.nvim_buf_get_name(bufnr) == "" then
    return nil
  end
  local root = root_dir(bufnr)
  if vim.lsp.start then
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  local id = clients_by_root[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or client.is_stopped() then
    id = vim.lsp.start_client(client_config(root))
    clients_by_root[root] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

local function citewise_client(bufnr)
  local client = attached_client(bufnr)
  if not client then
    vim.notify("citewise: no citewise server for this buffer", vim.log.levels.WARN)
  end
  return client
end

-- Runs a server command (workspace/executeCommand); `on_result(result)` gets its answer.
function M.execute(command, arguments, on_result, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = citewise_client(bufnr)
  if not client then
    return
  end
  client.request("workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if err then
      vim.notify("citewise: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif on_result then
      on_result(result)
    end
  end, bufnr)
end

-- Cites `key` at the cursor: the server edits the draft and, when needed, the .bib.
function M.cite(key)
  local client = citewise_client(0)
  if not client then
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  M.execute("citewise.insertCitation", { params.textDocument.uri, params.position, key })
end

local function describe(item)
  local authors = type(item.authors) == "table" and table.concat(item.authors, ", ") or (item.authors or "")
  local mark = item.inBib and "in .bib" or "from index"
  return string.format("%s — %s %s [%s, %s]", item.title or item.key, authors, item.year or "", item.key, mark)
end

local function pick_and_cite(items, prompt)
  if #items == 0 then
    vim.notify("citewise: nothing to choose from", vim.log.levels.INFO)
    return
  end
  vim.ui.select(items, { prompt = prompt, format_item = describe }, function(choice)
    if choice then
      M.cite(choice.key)
    end
  end)
end

-- :CitewiseSuggestions — choose one of the papers suggested for the sentence being written.
function M.pick_suggestion()
  local latest = M.suggestions[vim.api.nvim_get_current_buf()]
  pick_and_cite(latest and latest.items or {}, "Cite a suggested paper")
end

-- :CitewiseSearch {query} — search the index and cite the chosen paper.
function M.search(query)
  M.execute("citewise.searchPapers", { query, 20 }, function(papers)
    pick_and_cite(papers or {}, "Cite a paper")
  end)
end

function M.setup(opts)
  config = vim.tbl_deep_extend("force", config, opts or {})
  local group = vim.api.nvim_create_augroup("citewise", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.filetypes,
    callback = function(args)
      M.prepare_buffer(args.buf)
      M.attach(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd("BufWipeout", {
    group = group,
    callback = function(args)
      M.suggestions[args.buf] = nil
    end,
  })
  vim.api.nvim_create_user_command("CitewiseSuggestions", M.pick_suggestion, {})
  vim.api.nvim_create_user_command("CitewiseSearch", function(args)
    M.search(args.args)
  end, { nargs = "+" })
  vim.api.nvim_create_user_command("CitewiseGenerateBib", function()
    M.execute("citewise.generateBib", { vim.uri_from_bufnr(0) }, function(result)
      vim.notify("citewise: wrote " .. tostring(result and result.path))
    end)
  end, {})
  vim.api.nvim_create_user_command("CitewiseStatus", function()
    M.execute("citewise.status", {}, function(status)
      vim.notify(vim.inspect(status))
    end)
  end, {})
end

return M
