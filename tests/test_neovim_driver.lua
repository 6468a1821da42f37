-- Drives citewise in a headless Neovim through the built-in LSP client, for tests/test_neovim.py.
-- Environment: CITEWISE_DRAFT (the .tex to open), CITEWISE_RESULT (JSON written here at the end),
-- CITEWISE_TYPED_KEY (a key prefix to complete), CITEWISE_INDEX_KEY (a paper only in the index,
-- chosen with <C-x><C-o>), CITEWISE_HOVER_KEY, CITEWISE_SENTENCE (a pattern on the line whose code
-- actions are asked for), CITEWISE_NEXT_SENTENCE (typed after it, then cited with :CitewiseSuggestions).
local citewise = require("citewise")
local results = { steps = {} }
local TIMEOUT = 60000

local function step(name)
  table.insert(results.steps, name)
end

local function wait_for(what, condition, timeout)
  if not vim.wait(timeout or TIMEOUT, condition, 50) then
    error("timed out waiting for " .. what)
  end
end

local function client_for(bufnr)
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr }) or vim.lsp.buf_get_clients(bufnr)
  for _, client in pairs(clients) do
    if client.name == "citewise" then
      return client
    end
  end
end

local function find_line(bufnr, pattern)
  for index, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    if line:find(pattern, 1, true) then
      return index, line
    end
  end
  error("no line contains " .. pattern)
end

local function request(bufnr, method, params)
  local responses = vim.lsp.buf_request_sync(bufnr, method, params, TIMEOUT)
  for _, response in pairs(responses or {}) do
    if response.err then
      error(method .. ": " .. vim.inspect(response.err))
    end
    return response.result
  end
end

local function completion_labels(bufnr)
  local result = request(bufnr, "textDocument/completion", vim.lsp.util.make_position_params())
  local items = result and (result.items or result) or {}
  local labels = {}
  for _, item in ipairs(items) do
    table.insert(labels, item.label)
  end
  return labels
end

-- Types `before .. after` as a new line after line `line`, leaving the cursor between the two.
local function type_line(bufnr, line, before, after)
  vim.api.nvim_buf_set_lines(bufnr, line, line, false, { before .. after })
  vim.api.nvim_win_set_cursor(0, { line + 1, #before })
end

local function markdown_of(hover)
  local contents = hover and hover.contents
  if type(contents) == "table" then
    return contents.value or table.concat(vim.tbl_map(function(part)
      return type(part) == "table" and part.value or part
    end, contents), "\n")
  end
  return contents
end

local function run()
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("CITEWISE_DRAFT")))
  local bufnr = vim.api.nvim_get_current_buf()
  results.filetype = vim.bo[bufnr].filetype
  wait_for("the server to initialize", function()
    local client = client_for(bufnr)
    return client ~= nil and client.initialized == true
  end)
  step("initialized")
  results.omnifunc = vim.bo[bufnr].omnifunc

  local begin = find_line(bufnr, "\\begin{document}")
  type_line(bufnr, begin, "Earlier work \\cite{", "}.")
  results.bib_completion = completion_labels(bufnr)
  type_line(bufnr, begin + 1, "Related work \\cite{" .. os.getenv("CITEWISE_TYPED_KEY"), "}.")
  results.index_completion = completion_labels(bufnr)
  step("completed")

  -- Choosing a paper that is only in the index with <C-x><C-o> adds its entry to the .bib on disk.
  -- vim.lsp.omnifunc answers asynchronously, which keys typed by a script cannot wait for; this
  -- omnifunc builds the same complete-items (user_data and all) synchronously.
  local index_key = os.getenv("CITEWISE_INDEX_KEY")
  type_line(bufnr, begin + 2, "Chosen with omnifunc \\cite{" .. index_key:sub(1, 10), "}.")
  local items
  function _G.citewise_test_omnifunc(findstart, base)
    if findstart == 0 then
      return vim.lsp.util.text_document_completion_list_to_complete_items(items, base)
    end
    items = request(bufnr, "textDocument/completion", vim.lsp.util.make_position_params())
    local before_cursor = vim.api.nvim_get_current_line():sub(1, vim.api.nvim_win_get_cursor(0)[2])
    return vim.fn.match(before_cursor, "\\k*$")
  end
  vim.bo[bufnr].omnifunc = "v:lua.citewise_test_omnifunc"
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("i<C-x><C-o><C-y><Esc>", true, false, true), "x", false)
  vim.bo[bufnr].omnifunc = results.omnifunc
  results.omnifunc_line = vim.api.nvim_buf_get_lines(bufnr, begin + 2, begin + 3, false)[1]
  wait_for("the chosen paper's entry in the .bib on disk", function()
    return table.concat(vim.fn.readfile(os.getenv("CITEWISE_BIB")), "\n"):find("{" .. index_key .. ",", 1, true) ~= nil
  end, 20000)
  step("omnifunc")

  local hover_line, text = find_line(bufnr, os.getenv("CITEWISE_HOVER_KEY"))
  local column = text:find(os.getenv("CITEWISE_HOVER_KEY"), 1, true)
  vim.api.nvim_win_set_cursor(0, { hover_line, column + 1 })
  results.hover = markdown_of(request(bufnr, "textDocument/hover", vim.lsp.util.make_position_params()))
  step("hovered")

  local sentence_line, sentence = find_line(bufnr, os.getenv("CITEWISE_SENTENCE"))
  vim.api.nvim_win_set_cursor(0, { sentence_line, #sentence - 1 })
  wait_for("citewise/suggestions", function()
    return citewise.suggestions[bufnr] ~= nil
  end)
  results.suggestions = vim.tbl_map(function(item)
    return { key = item.key, inBib = item.inBib }
  end, citewise.suggestions[bufnr].items)
  step("suggested")

  -- The user picks the first `Cite:` code action, or the first paper of any other list.
  vim.ui.select = function(items, opts, on_choice)
    if opts.kind ~= "codeaction" then
      results.picked = items[1]
      return on_choice(items[1], 1)
    end
    results.offered_actions = vim.tbl_map(opts.format_item, items)
    for index, item in ipairs(items) do
      if opts.format_item(item):find("^Cite: ") then
        results.chosen_action = opts.format_item(item)
        return on_choice(item, index)
      end
    end
    results.chosen_action = vim.NIL
    on_choice(nil, nil)
  end
  local bib_before = table.concat(vim.fn.readfile(os.getenv("CITEWISE_BIB")), "\n")
  vim.lsp.buf.code_action()
  wait_for("a code action to be chosen", function()
    return results.chosen_action ~= nil
  end)
  -- The action cites in the draft; its .bib entry comes through workspace/applyEdit, which the
  -- setup writes: the .bib changes on disk while the draft waits for the user.
  wait_for("the .bib on disk to change without a write", function()
    return table.concat(vim.fn.readfile(os.getenv("CITEWISE_BIB")), "\n") ~= bib_before
  end, 20000)
  results.draft_unwritten_after_cite = vim.bo[bufnr].modified
  vim.cmd("silent wall")
  step("cited")

  citewise.suggestions[bufnr] = nil
  type_line(bufnr, sentence_line, os.getenv("CITEWISE_NEXT_SENTENCE"), "")
  wait_for("suggestions for the next sentence", function()
    return citewise.suggestions[bufnr] ~= nil
  end)
  vim.cmd("CitewiseSuggestions")
  wait_for("the citation of the picked suggestion", function()
    return results.picked ~= nil and vim.api.nvim_buf_get_lines(bufnr, sentence_line, sentence_line + 1, false)[1]:find(results.picked.key, 1, true) ~= nil
  end)
  wait_for("the picked paper in the .bib on disk, without a write", function()
    return table.concat(vim.fn.readfile(os.getenv("CITEWISE_BIB")), "\n"):find("{" .. results.picked.key .. ",", 1, true) ~= nil
  end)
  results.draft_unwritten_after_pick = vim.bo[bufnr].modified
  vim.cmd("silent wall")
  step("picked")
end

local ok, err = pcall(run)
results.error = ok and vim.NIL or tostring(err)
vim.fn.writefile({ vim.fn.json_encode(results) }, os.getenv("CITEWISE_RESULT"))
vim.cmd("qall!")
