-- Drives citewise in a headless Neovim through the keys a person presses, for tests/test_neovim.py.
-- Keys go in with nvim_input, so Neovim's main loop handles them as typed ones: insert mode,
-- <C-x><C-o> with the omnifunc the setup installs, the popup menu (read with complete_info()),
-- <C-y>, K, gra, :wa, and <C-x><C-o> again on a DOI typed as the key. The driver is a coroutine
-- that a timer resumes, so the asynchronous omnifunc and the server's requests (workspace/applyEdit)
-- run between key batches.
-- Environment: CITEWISE_DRAFT (the .tex to open), CITEWISE_BIB, CITEWISE_RESULT (JSON written here
-- at the end), CITEWISE_TITLE_WORD + CITEWISE_TITLE_KEY (a title word of a paper only in the index,
-- and its key), CITEWISE_AUTHOR + CITEWISE_AUTHOR_KEY (a co-author's family name and the paper's key),
-- CITEWISE_HOVER_KEY, CITEWISE_SENTENCE (a pattern on the line whose code actions are asked for),
-- CITEWISE_NEXT_SENTENCE (typed after it, then cited with :CitewiseSuggestions), CITEWISE_DOI +
-- CITEWISE_DOI_KEY (a DOI the registries on 127.0.0.1 resolve, and its entry's key).
local citewise = require("citewise")
local results = { steps = {} }
local TIMEOUT = 60000
local driver
vim.lsp.set_log_level("debug")

local function step(name)
  table.insert(results.steps, name)
end

local function finish(err)
  results.error = err and tostring(err) or vim.NIL
  if err then
    results.lsp_log = vim.lsp.get_log_path() -- every message, kept with pytest's temporary directories
    results.buffer = vim.api.nvim_buf_get_lines(0, 0, -1, false)
    results.messages = vim.fn.execute("messages")
  end
  vim.fn.writefile({ vim.fn.json_encode(results) }, os.getenv("CITEWISE_RESULT"))
  vim.cmd("qall!")
end

local function resume()
  local ok, err = coroutine.resume(driver)
  if not ok then
    finish(debug.traceback(driver, err))
  end
end

local function sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end

local function wait_for(what, condition, timeout)
  local deadline = vim.loop.hrtime() + (timeout or TIMEOUT) * 1e6
  while true do
    local ok, value = pcall(condition)
    if ok and value then
      return value
    end
    if vim.loop.hrtime() > deadline then
      error("timed out waiting for " .. what .. (ok and "" or (": " .. tostring(value))))
    end
    sleep(50)
  end
end

-- Keys as a person types them (nvim_input: "<" must be written "<lt>").
local function press(keys, mode_after)
  vim.api.nvim_input(keys)
  if mode_after then
    wait_for("mode " .. mode_after .. " after " .. keys, function()
      return vim.api.nvim_get_mode().mode == mode_after and not vim.api.nvim_get_mode().blocking
    end)
  end
end

-- :wa, typed; returns once every buffer is written.
local function write_all()
  press(":wa<CR>")
  wait_for(":wa to write every buffer", function()
    return vim.api.nvim_get_mode().mode == "n" and #vim.tbl_filter(function(buf)
      return vim.bo[buf].modified
    end, vim.api.nvim_list_bufs()) == 0
  end)
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

local function bib_on_disk()
  return table.concat(vim.fn.readfile(os.getenv("CITEWISE_BIB")), "\n")
end

-- Opens a new line below line `line`, types `text` and <C-x><C-o>; the popup menu's labels once
-- it shows (complete_info(), the menu a person sees), still in insert mode.
local function complete_after(line, text)
  vim.api.nvim_win_set_cursor(0, { line, 0 })
  press("o" .. text)
  wait_for("the typed text", function()
    return vim.api.nvim_get_mode().mode == "i" and vim.api.nvim_get_current_line() == text
  end)
  press("<C-x><C-o>")
  local items = wait_for("the completion menu after " .. text, function()
    local info = vim.fn.complete_info({ "items", "selected" })
    return #info.items > 0 and info.items
  end)
  return vim.tbl_map(function(item)
    return item.abbr
  end, items)
end

-- Moves the menu's selection to `label` with <C-n> and accepts it with <C-y>.
local function accept(labels, label)
  local position = vim.fn.index(labels, label)
  if position < 0 then
    error(label .. " is not in the menu: " .. table.concat(labels, ", "))
  end
  local selected = vim.fn.complete_info({ "selected" }).selected
  press(string.rep("<C-n>", position - selected) .. "<C-y>")
  wait_for("the menu to close", function()
    return vim.fn.pumvisible() == 0 and #vim.fn.complete_info({ "items" }).items == 0
  end)
end

-- Opens a new line below line `line` and types `text` (ending in a DOI typed as the key), then
-- <C-x><C-o> until the menu holds `key`: the registries may answer after the first request, and
-- until then the menu is empty or holds other papers (closed with <C-e>, the typed text kept).
local function complete_identifier(line, text, key)
  vim.api.nvim_win_set_cursor(0, { line, 0 })
  press("o" .. text)
  wait_for("the typed text", function()
    return vim.api.nvim_get_mode().mode == "i" and vim.api.nvim_get_current_line() == text
  end)
  local deadline = vim.loop.hrtime() + TIMEOUT * 1e6
  while true do
    press("<C-x><C-o>")
    local shown_by = vim.loop.hrtime() + 2e9
    while vim.fn.pumvisible() == 0 and vim.loop.hrtime() < shown_by do
      sleep(50)
    end
    local labels = vim.tbl_map(function(item)
      return item.abbr
    end, vim.fn.complete_info({ "items" }).items)
    if vim.tbl_contains(labels, key) then
      return labels
    end
    if vim.loop.hrtime() > deadline then
      error("timed out waiting for the menu to offer " .. key .. ": " .. table.concat(labels, ", "))
    end
    press((vim.fn.pumvisible() == 1 and "<C-e>" or "") .. "<Esc>A", "i")
  end
end

local function floating_text()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= "" then
      return table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), "\n")
    end
  end
end

local function run()
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("CITEWISE_DRAFT")))
  local bufnr = vim.api.nvim_get_current_buf()
  results.filetype = vim.bo[bufnr].filetype
  results.omnifunc_before_attach = vim.bo[bufnr].omnifunc
  results.attached_before_omnifunc = client_for(bufnr) ~= nil
  wait_for("the server to initialize", function()
    local client = client_for(bufnr)
    return client ~= nil and client.initialized == true
  end)
  step("initialized")
  results.omnifunc = vim.bo[bufnr].omnifunc
  results.k_mapping = vim.fn.maparg("K", "n", false, true).desc or vim.NIL

  -- A co-author's family name lists the paper (the .bib's and the index's, best first).
  local begin = find_line(bufnr, "\\begin{document}")
  results.author_menu = complete_after(begin, "Transformers \\cite{" .. os.getenv("CITEWISE_AUTHOR"))
  press("<C-e><Esc>", "n")
  vim.cmd("silent undo")

  -- A title word lists a paper that is only in the index; accepting it adds its entry to the .bib.
  results.title_menu = complete_after(begin, "Forgetting data \\cite{" .. os.getenv("CITEWISE_TITLE_WORD"))
  accept(results.title_menu, os.getenv("CITEWISE_TITLE_KEY"))
  press("}.<Esc>", "n")
  results.completed_line = vim.api.nvim_buf_get_lines(bufnr, begin, begin + 1, false)[1]
  wait_for("the accepted paper's entry in the .bib on disk", function()
    return bib_on_disk():find("{" .. os.getenv("CITEWISE_TITLE_KEY") .. ",", 1, true) ~= nil
  end)
  results.draft_unwritten_after_completion = vim.bo[bufnr].modified
  write_all()
  step("completed")

  -- Hover with K, the key the setup maps before Neovim 0.10.
  local hover_line, text = find_line(bufnr, os.getenv("CITEWISE_HOVER_KEY"))
  vim.api.nvim_win_set_cursor(0, { hover_line, text:find(os.getenv("CITEWISE_HOVER_KEY"), 1, true) + 1 })
  press("K")
  results.hover = wait_for("the hover window", floating_text)
  press("<Esc>", "n")
  step("hovered")

  -- Writing on: a comma after the sentence brings suggestions for it.
  local sentence_line = find_line(bufnr, os.getenv("CITEWISE_SENTENCE"))
  citewise.suggestions[bufnr] = nil
  vim.api.nvim_win_set_cursor(0, { sentence_line, 0 })
  press("A,<Esc>", "n")
  wait_for("citewise/suggestions for the sentence", function()
    local latest = citewise.suggestions[bufnr]
    return latest ~= nil and latest.range.start.line == sentence_line - 1 and #latest.items > 0
  end)
  results.suggestions = vim.tbl_map(function(item)
    return { key = item.key, inBib = item.inBib }
  end, citewise.suggestions[bufnr].items)
  step("suggested")

  -- The person picks the first `Cite:` code action (gra), or the first paper of any other list.
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
  local bib_before = bib_on_disk()
  press("gra")
  wait_for("a code action to be chosen", function()
    return results.chosen_action ~= nil
  end)
  -- The action cites in the draft; its .bib entry comes through workspace/applyEdit, which the
  -- setup writes: the .bib changes on disk while the draft waits for the user.
  wait_for("the .bib on disk to change without a write", function()
    return bib_on_disk() ~= bib_before
  end)
  results.draft_unwritten_after_cite = vim.bo[bufnr].modified
  write_all()
  step("cited")

  citewise.suggestions[bufnr] = nil
  vim.api.nvim_win_set_cursor(0, { sentence_line, 0 })
  press("o" .. os.getenv("CITEWISE_NEXT_SENTENCE") .. "<Esc>", "n")
  -- Suggestions for the new line (one for the line cited just before may still arrive first).
  wait_for("suggestions for the next sentence", function()
    local latest = citewise.suggestions[bufnr]
    return latest ~= nil and type(latest.range) == "table" and latest.range["end"].line == sentence_line and #latest.items > 0
  end)
  press(":CitewiseSuggestions<CR>")
  wait_for("the citation of the picked suggestion", function()
    return results.picked ~= nil and vim.api.nvim_buf_get_lines(bufnr, sentence_line, sentence_line + 1, false)[1]:find(results.picked.key, 1, true) ~= nil
  end)
  wait_for("the picked paper in the .bib on disk, without a write", function()
    return bib_on_disk():find("{" .. results.picked.key .. ",", 1, true) ~= nil
  end)
  results.draft_unwritten_after_pick = vim.bo[bufnr].modified
  write_all()
  step("picked")

  -- A DOI typed as the key: once the registries resolved it, the menu offers its entry under a
  -- formula key; accepting it replaces the DOI, and the entry reaches the .bib on disk.
  local doi_key = os.getenv("CITEWISE_DOI_KEY")
  results.doi_menu = complete_identifier(begin, "Segmentation \\cite{" .. os.getenv("CITEWISE_DOI"), doi_key)
  accept(results.doi_menu, doi_key)
  press("}.<Esc>", "n")
  results.doi_line = vim.api.nvim_buf_get_lines(bufnr, begin, begin + 1, false)[1]
  wait_for("the DOI's entry in the .bib on disk", function()
    return bib_on_disk():find("{" .. doi_key .. ",", 1, true) ~= nil
  end)
  results.draft_unwritten_after_identifier = vim.bo[bufnr].modified
  write_all()
  step("identifier")
end

driver = coroutine.create(function()
  run()
  finish(nil)
end)
resume()
