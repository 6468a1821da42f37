;;; citewise.el --- The citewise language server in Emacs, through eglot  -*- lexical-binding: t; -*-

;; Registers `python3 -m citewise serve' with eglot for LaTeX, BibTeX and Markdown buffers, keeps
;; the server's `citewise/suggestions' notifications, and offers commands to cite a suggested or
;; searched paper at point.  Needs eglot (built in from Emacs 29; Debian's elpa-eglot on Emacs 28).

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

(defun citewise--contact (_interactive)
  "The eglot contact: the server command and its initialization options."
  (append (list citewise-python "-m" "citewise" "serve")
          (when citewise-settings (list :initializationOptions citewise-settings))))

(add-to-list 'eglot-server-programs (cons citewise-modes #'citewise--contact))

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

(defun citewise--modified-bib-buffers ()
  "Buffers visiting a .bib file that have unsaved changes."
  (cl-remove-if-not (lambda (buffer)
                      (and (buffer-modified-p buffer)
                           (string-suffix-p ".bib" (or (buffer-file-name buffer) ""))))
                    (buffer-list)))

(defun citewise-cite (key)
  "Cite KEY at point; the server edits the draft and, when needed, the .bib.
The .bib buffers the edit changed are saved when they had no unsaved changes
before, so that the entry is on disk for the next LaTeX build; the draft is
left for the user to save."
  (interactive "sKey: ")
  (let ((modified-before (citewise--modified-bib-buffers)))
    (citewise--execute "citewise.insertCitation" (eglot--path-to-uri (buffer-file-name)) (eglot--pos-to-lsp-position) key)
    (dolist (buffer (cl-set-difference (citewise--modified-bib-buffers) modified-before))
      (with-current-buffer buffer
        (save-buffer)))))

(defun citewise--choose (items prompt)
  "Let the user choose among ITEMS with PROMPT and cite the choice."
  (unless items (user-error "citewise: nothing to choose from"))
  (let* ((choices (mapcar (lambda (item) (cons (citewise--describe item) item)) items))
         (choice (cdr (assoc (completing-read prompt choices nil t) choices))))
    (citewise-cite (plist-get choice :key))))

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
