;;; test_emacs_driver.el --- Drives citewise through eglot in Emacs batch mode, for tests/test_emacs.py  -*- lexical-binding: t; -*-

;; Configured as editors/emacs/README.md says, and driven with the keys a person presses
;; (`execute-kbd-macro'): text typed after `\cite{', TAB (completion-at-point, through
;; `tab-always-indent'), `C-x o' into *Completions*, RET on the paper.
;; Environment: CITEWISE_EMACS_DIR (editors/emacs), CITEWISE_PYTHON, CITEWISE_INDEX, CITEWISE_DRAFT,
;; CITEWISE_TITLE_WORD + CITEWISE_TITLE_KEY (a title word of a paper only in the index and its key),
;; CITEWISE_AUTHOR (a co-author's family name), CITEWISE_SENTENCE (text on the line to cite),
;; CITEWISE_HOVER_KEY, CITEWISE_DOI + CITEWISE_DOI_KEY (a DOI the registries resolve and its entry's
;; key), CITEWISE_RESULT (JSON written here).

(add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
(package-initialize)
(require 'json)

;; The README's configuration.
(add-to-list 'load-path (getenv "CITEWISE_EMACS_DIR"))
(require 'citewise)
(setq citewise-python (getenv "CITEWISE_PYTHON")
      citewise-settings (list :indexPath (getenv "CITEWISE_INDEX") :debounceMs 100 :verify t)
      eglot-confirm-server-initiated-edits nil)
(add-hook 'latex-mode-hook (lambda () (setq-local tab-always-indent 'complete)))

(defvar citewise-test-results nil)

(defun citewise-test-record (name value)
  (push (cons name value) citewise-test-results))

(defun citewise-test-wait (what predicate)
  (let ((deadline (+ (float-time) 60)))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or (funcall predicate) (error "Timed out waiting for %s" what))))

(defun citewise-test-keys (keys)
  "Press KEYS (in `kbd' notation) as a person would."
  (execute-kbd-macro (kbd keys)))

(defun citewise-test-type (text)
  "Type TEXT, one character at a time."
  (execute-kbd-macro (vconcat text)))

(defun citewise-test-menu ()
  "The papers *Completions* lists, in its order."
  (with-current-buffer "*Completions*"
    (goto-char (point-min))
    (let (labels)
      (while (progn (next-completion 1) (not (eobp)))
        (let ((label (get-text-property (point) 'completion--string)))
          (if (member label labels) (goto-char (point-max)) (push label labels))))
      (nreverse labels))))

(defun citewise-test-complete (text)
  "On a new line after \\begin{document}, type TEXT and TAB.
The papers *Completions* lists, or nil when TAB completed the only one in place."
  (goto-char (point-min))
  (search-forward "\\begin{document}")
  (citewise-test-keys "C-e RET")
  (citewise-test-type text)
  (when (get-buffer "*Completions*") (kill-buffer "*Completions*"))
  (let ((before (buffer-substring-no-properties (line-beginning-position) (point))))
    (citewise-test-keys "TAB")
    (citewise-test-wait "*Completions* or the line completed"
                        (lambda () (or (get-buffer-window "*Completions*")
                                       (not (equal before (buffer-substring-no-properties (line-beginning-position) (point)))))))
    (when (get-buffer-window "*Completions*")
      (citewise-test-menu))))

(defun citewise-test-complete-identifier (text)
  "On a new line after \\begin{document}, type TEXT (ending in a DOI typed as the key) and press
TAB until the line completes or *Completions* shows: the registries may answer after the first TAB."
  (goto-char (point-min))
  (search-forward "\\begin{document}")
  (citewise-test-keys "C-e RET")
  (citewise-test-type text)
  (let ((before (buffer-substring-no-properties (line-beginning-position) (point)))
        (deadline (+ (float-time) 60)))
    (while (and (equal before (buffer-substring-no-properties (line-beginning-position) (point)))
                (not (get-buffer-window "*Completions*"))
                (< (float-time) deadline))
      (citewise-test-keys "TAB")
      (accept-process-output nil 0.2))
    (when (get-buffer-window "*Completions*")
      (citewise-test-menu))))

(defun citewise-test-run ()
  (find-file (getenv "CITEWISE_DRAFT"))
  (citewise-test-record 'mode (symbol-name major-mode))
  (apply #'eglot (eglot--guess-contact))
  (citewise-test-wait "eglot to connect" (lambda () (eglot-current-server)))
  (citewise-test-record 'connected t)
  (citewise-test-record 'server-class (symbol-name (eieio-object-class (eglot-current-server))))
  (let ((draft (current-buffer)))

    ;; A co-author's family name finds the paper: the only match, TAB completes it in place.
    (citewise-test-record 'author-menu (citewise-test-complete (concat "Transformers \\cite{" (getenv "CITEWISE_AUTHOR"))))
    (citewise-test-record 'author-line (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
    (delete-region (line-beginning-position) (1+ (line-end-position)))

    ;; A title word lists a paper only in the index; RET on it in *Completions* cites it, and the
    ;; server adds its entry to the .bib, which citewise.el saves.
    (let ((menu (citewise-test-complete (concat "Forgetting data \\cite{" (getenv "CITEWISE_TITLE_WORD"))))
          (key (getenv "CITEWISE_TITLE_KEY"))
          (bib (expand-file-name "refs.bib" (file-name-directory (getenv "CITEWISE_DRAFT")))))
      (citewise-test-record 'title-menu menu)
      (citewise-test-keys "C-x o")
      (citewise-test-record 'in-completions (eq (current-buffer) (get-buffer "*Completions*")))
      (goto-char (point-min))
      (search-forward key)
      (backward-char 1)
      (citewise-test-keys "RET")
      (citewise-test-record 'back-in-draft (eq (current-buffer) draft))
      (citewise-test-type "}.")
      (citewise-test-record 'completed-line (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
      (citewise-test-wait "the paper's entry in the .bib on disk"
                          (lambda ()
                            (with-temp-buffer
                              (insert-file-contents bib)
                              (search-forward (concat "{" key ",") nil t))))
      (citewise-test-record 'draft-unsaved-after-completion (buffer-modified-p)))

    ;; A DOI typed as the key: once the registries resolved it, TAB completes its entry's key in place
    ;; (over the DOI's last word, as eglot does); the server adds the entry to the .bib and removes
    ;; the rest of the DOI.
    (let ((key (getenv "CITEWISE_DOI_KEY"))
          (bib (expand-file-name "refs.bib" (file-name-directory (getenv "CITEWISE_DRAFT")))))
      (citewise-test-record 'doi-menu (citewise-test-complete-identifier (concat "Segmentation \\cite{" (getenv "CITEWISE_DOI"))))
      (citewise-test-type "}.")
      ;; An interactive Emacs sends the change once idle (`eglot-send-changes-idle-time'); a batch
      ;; Emacs never idles, so send it here. The server's edit removing the rest of the DOI may have
      ;; been computed before these keys: eglot refuses it, and the server computes it again.
      (eglot--signal-textDocument/didChange)
      (citewise-test-record 'doi-line-typed (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
      (citewise-test-wait "the DOI's entry in the .bib on disk"
                          (lambda ()
                            (with-temp-buffer
                              (insert-file-contents bib)
                              (search-forward (concat "{" key ",") nil t))))
      (citewise-test-wait "the rest of the DOI gone from the line"
                          (lambda () (not (string-match-p "10\\.1109" (buffer-substring-no-properties (line-beginning-position) (line-end-position))))))
      (citewise-test-record 'doi-line (buffer-substring-no-properties (line-beginning-position) (line-end-position))))

    (goto-char (point-min))
    (search-forward (getenv "CITEWISE_HOVER_KEY"))
    (backward-char 3)
    (eglot--signal-textDocument/didChange)
    (let ((hover (jsonrpc-request (eglot-current-server) :textDocument/hover (eglot--TextDocumentPositionParams))))
      (citewise-test-record 'hover (plist-get (plist-get hover :contents) :value)))

    ;; Nothing chosen in `citewise-cite-suggestion' (RET on empty input; the minibuffer of a
    ;; batch Emacs reads standard input, so its answer is given here) does nothing.
    (let ((text (buffer-string)))
      (setq citewise-suggestions (list (list :key "someKey" :title "Some title")))
      (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "")))
        (call-interactively #'citewise-cite-suggestion))
      (citewise-test-record 'unchanged-after-empty-choice (equal text (buffer-string))))

    (goto-char (point-min))
    (search-forward (getenv "CITEWISE_SENTENCE"))
    (setq citewise-suggestions nil)
    (citewise-test-type ",")
    (eglot--signal-textDocument/didChange)
    (citewise-test-wait "citewise/suggestions" (lambda () citewise-suggestions))
    (let ((key (plist-get (car citewise-suggestions) :key)))
      (citewise-test-record 'cited key)
      (citewise-cite key)
      (citewise-test-record 'bib-on-disk-before-saving
                            (with-temp-buffer
                              (insert-file-contents (expand-file-name "refs.bib" (file-name-directory (getenv "CITEWISE_DRAFT"))))
                              (search-forward (concat "{" key ",") nil t)))
      (citewise-test-record 'draft-unsaved-after-cite (buffer-modified-p)))
    (save-some-buffers t)
    (citewise-test-record 'saved (not (buffer-modified-p)))))

(condition-case err
    (citewise-test-run)
  (error
   (citewise-test-record 'error (error-message-string err))
   ;; What the server and eglot said last, to tell why.
   (ignore-errors
     (with-current-buffer (jsonrpc-events-buffer (eglot-current-server))
       (citewise-test-record 'events (buffer-substring-no-properties (max (point-min) (- (point-max) 200000)) (point-max)))))))
(with-temp-file (getenv "CITEWISE_RESULT")
  (insert (json-encode citewise-test-results)))
(ignore-errors (eglot-shutdown (eglot-current-server)))
(kill-emacs 0)
