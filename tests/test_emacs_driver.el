;;; test_emacs_driver.el --- Drives citewise through eglot in Emacs batch mode, for tests/test_emacs.py  -*- lexical-binding: t; -*-

;; Environment: CITEWISE_EMACS_DIR (editors/emacs), CITEWISE_PYTHON, CITEWISE_INDEX, CITEWISE_DRAFT,
;; CITEWISE_SENTENCE (text on the line to cite), CITEWISE_HOVER_KEY, CITEWISE_RESULT (JSON written here).

(add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
(package-initialize)
(add-to-list 'load-path (getenv "CITEWISE_EMACS_DIR"))
(require 'citewise)
(require 'json)

(setq citewise-python (getenv "CITEWISE_PYTHON")
      citewise-settings (list :indexPath (getenv "CITEWISE_INDEX") :debounceMs 100))
;; The user answers "yes" when eglot asks to edit the .bib, which no buffer visits yet.
(fset 'y-or-n-p (lambda (&rest _) t))

(defvar citewise-test-results nil)

(defun citewise-test-record (name value)
  (push (cons name value) citewise-test-results))

(defun citewise-test-wait (what predicate)
  (let ((deadline (+ (float-time) 60)))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (unless (funcall predicate)
      (error "Timed out waiting for %s" what))))

(defun citewise-test-labels ()
  "The labels eglot's completion-at-point offers at point."
  (let* ((capf (eglot-completion-at-point))
         (table (nth 2 capf)))
    (all-completions "" table)))

(defun citewise-test-run ()
  (find-file (getenv "CITEWISE_DRAFT"))
  (citewise-test-record 'mode (symbol-name major-mode))
  (apply #'eglot (eglot--guess-contact))
  (citewise-test-wait "eglot to connect" (lambda () (eglot-current-server)))
  (citewise-test-record 'connected t)

  (goto-char (point-min))
  (search-forward "\\begin{document}")
  (insert "\nRelated work \\cite{score}.")
  (backward-char 2)
  (citewise-test-record 'completion (citewise-test-labels))

  (goto-char (point-min))
  (search-forward (getenv "CITEWISE_HOVER_KEY"))
  (backward-char 3)
  (eglot--signal-textDocument/didChange)
  (let ((hover (jsonrpc-request (eglot-current-server) :textDocument/hover (eglot--TextDocumentPositionParams))))
    (citewise-test-record 'hover (plist-get (plist-get hover :contents) :value)))

  (goto-char (point-min))
  (search-forward (getenv "CITEWISE_SENTENCE"))
  (setq citewise-suggestions nil)
  (insert ",")
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
  (citewise-test-record 'saved t))

(condition-case err
    (citewise-test-run)
  (error (citewise-test-record 'error (error-message-string err))))
(with-temp-file (getenv "CITEWISE_RESULT")
  (insert (json-encode citewise-test-results)))
(ignore-errors (eglot-shutdown (eglot-current-server)))
(kill-emacs 0)
