;;; citewise.el --- The citewise language server in Emacs, through eglot  -*- lexical-binding: t; -*-

;; Registers `python3 -m citewise serve' with eglot for LaTeX, BibTeX and Markdown buffers, makes
;; `completion-at-point' list the papers the server found (by key, author, title word or year) in
;; the server's order, saves a .bib the server adds an entry to, keeps the server's
;; `citewise/suggestions' notifications, and offers commands to cite a suggested or searched paper
;; at point.  Needs eglot (built in from Emacs 29; Debian's elpa-eglot on Emacs 28).

;;; Code:

(require 'cl-lib)
(require 'eglot)

(defgroup citewise nil
  "Citation assistant language server."
  :group 'tools)

(defcustom citewise-python "python3"
  "Python interpreter that has citewise installed."
  :type 'string)

(defcustom citewise-settings nil
  "Server settings sent at start: a plist such as (:indexPath \"~/index.sqlite\")."
  :type 'plist)

(defconst citewise-modes
  '(latex-mode LaTeX-mode tex-mode plain-tex-mode bibtex-mode markdown-mode gfm-mode quarto-mode poly-markdown-mode)
  "Major modes whose buffers citewise serves.")

(defvar-local citewise-suggestions nil
  "The latest `citewise/suggestions' items for this buffer.
A list of plists with :key :title :authors :year :score :inBib.")

(defclass citewise-eglot-server (eglot-lsp-server) ()
  :documentation "The citewise language server, as eglot talks to it.")

(defun citewise--contact (_interactive)
  "The eglot contact: the server class, its command and its initialization options."
  (append (list 'citewise-eglot-server citewise-python "-m" "citewise" "serve")
          (when citewise-settings (list :initializationOptions citewise-settings))))

(add-to-list 'eglot-server-programs (cons citewise-modes #'citewise--contact))

;;;; Completion: the server's matches, in the server's order

;; eglot 1.9 completes with the styles of the `eglot' category (flex, then basic), which match
;; what was typed against the key itself: `\cite{diffusion' finds nothing, or stops with
;; "Internal error: lu2022dpmsolver doesn't match `diffusion'".  citewise already matched the
;; typed text against keys, authors, title words and years, and ranked the papers; this style
;; lists what the server sent (eglot keeps the items whose filterText starts with the typed
;; text, which citewise's all do) and leaves the order to eglot's sort by sortText.

(defun citewise--server-all-completions (string table pred _point)
  "The completions TABLE (eglot's) lists for STRING, as the server matched them."
  (all-completions string table pred))

(defun citewise--server-try-completion (string table pred point)
  "Complete STRING at POINT when TABLE lists a single paper; else keep it.
PRED filters the papers."
  (let ((all (all-completions string table pred)))
    (cond ((null all) nil)
          ((cdr all) (cons string point))
          ((equal (car all) string) t)
          (t (cons (car all) (length (car all)))))))

(add-to-list 'completion-styles-alist
             '(citewise-server citewise--server-try-completion citewise--server-all-completions
                               "The citewise server's matches, as it ranked them."))

(defun citewise--buffer-setup ()
  "In a buffer citewise serves, complete with the server's matches.
A buffer-local override of the `eglot' completion category's styles."
  (when (and (bound-and-true-p eglot--managed-mode)
             (cl-typep (eglot-current-server) 'citewise-eglot-server))
    (setq-local completion-category-overrides
                (cons '(eglot (styles citewise-server)) completion-category-overrides))))

(add-hook 'eglot-managed-mode-hook #'citewise--buffer-setup)

;;;; Edits from the server: the .bib is visited first and saved afterwards

(defun citewise--edited-files (edit)
  "The files the WorkspaceEdit EDIT changes."
  (append (cl-loop for (uri _edits) on (plist-get edit :changes) by #'cddr
                   collect (eglot--uri-to-path (if (keywordp uri) (substring (symbol-name uri) 1) uri)))
          (cl-loop for change across (or (plist-get edit :documentChanges) [])
                   for document = (plist-get change :textDocument)
                   when document collect (eglot--uri-to-path (plist-get document :uri)))))

(defun citewise--modified-bib-buffers ()
  "Buffers visiting a .bib file that have unsaved changes."
  (cl-remove-if-not (lambda (buffer)
                      (and (buffer-modified-p buffer)
                           (string-suffix-p ".bib" (or (buffer-file-name buffer) ""))))
                    (buffer-list)))

(cl-defmethod eglot-handle-request :around
  ((_server citewise-eglot-server) (_method (eql workspace/applyEdit)) &rest params)
  "Apply the server's edit, then save the .bib buffers it changed.
Only those that had no unsaved changes before are saved.  Accepting
a paper from the index, a `Cite:' code action and `citewise-cite' add
the paper's entry to the .bib this way, so that it is on disk for the
next LaTeX build; the draft is left for the user to save.  The .bib
files are visited first: eglot asks before editing a file no buffer
visits, even when `eglot-confirm-server-initiated-edits' is nil."
  (dolist (file (citewise--edited-files (plist-get params :edit)))
    (when (and (string-suffix-p ".bib" file) (file-regular-p file))
      (find-file-noselect file)))
  (let ((modified-before (citewise--modified-bib-buffers)))
    (prog1 (cl-call-next-method)
      (dolist (buffer (cl-set-difference (citewise--modified-bib-buffers) modified-before))
        (with-current-buffer buffer
          (save-buffer))))))

;;;; Suggestions and commands

(cl-defmethod eglot-handle-notification (_server (_method (eql citewise/suggestions)) &key uri items &allow-other-keys)
  "Keep the suggestions of URI's buffer."
  (let ((buffer (find-buffer-visiting (eglot--uri-to-path uri))))
    (when buffer
      (with-current-buffer buffer
        (setq citewise-suggestions (append items nil))))))

(defun citewise--describe (item)
  "One line for a suggested or found paper ITEM."
  (let ((authors (plist-get item :authors)))
    (format "%s — %s %s [%s%s]"
            (or (plist-get item :title) (plist-get item :key))
            (if (stringp authors) authors (mapconcat #'identity (append authors nil) ", "))
            (or (plist-get item :year) "")
            (plist-get item :key)
            (if (eq (plist-get item :inBib) t) ", in .bib" ""))))

(defun citewise--execute (command &rest arguments)
  "Run the server's COMMAND with ARGUMENTS; its result."
  (jsonrpc-request (eglot--current-server-or-lose) :workspace/executeCommand
                   (list :command command :arguments (vconcat arguments))))

(defun citewise-cite (key)
  "Cite KEY at point; the server edits the draft and, when needed, the .bib.
The .bib is saved when it had no unsaved changes before, so that the entry is
on disk for the next LaTeX build; the draft is left for the user to save.
An empty KEY does nothing."
  (interactive "sKey: ")
  (unless (string-empty-p (string-trim (or key "")))
    (citewise--execute "citewise.insertCitation" (eglot--path-to-uri (buffer-file-name)) (eglot--pos-to-lsp-position) key)))

(defun citewise--choose (items prompt)
  "Let the user choose among ITEMS with PROMPT and cite the choice."
  (unless items (user-error "citewise: nothing to choose from"))
  (let* ((choices (mapcar (lambda (item) (cons (citewise--describe item) item)) items))
         (choice (cdr (assoc (completing-read prompt choices nil t) choices))))
    (when choice
      (citewise-cite (plist-get choice :key)))))

(defun citewise-cite-suggestion ()
  "Cite one of the papers suggested for the sentence being written."
  (interactive)
  (citewise--choose citewise-suggestions "Cite a suggested paper: "))

(defun citewise-search (query)
  "Search the index for QUERY and cite the chosen paper."
  (interactive "sSearch papers: ")
  (citewise--choose (append (citewise--execute "citewise.searchPapers" query 20) nil) "Cite a paper: "))

(defun citewise-generate-bib ()
  "Write the .bib for the current draft."
  (interactive)
  (message "citewise: wrote %s" (plist-get (citewise--execute "citewise.generateBib" (eglot--path-to-uri (buffer-file-name))) :path)))

(provide 'citewise)
;;; citewise.el ends here
