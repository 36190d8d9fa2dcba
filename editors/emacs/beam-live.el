;;; beam-live.el --- BEAM Live through eglot  -*- lexical-binding: t -*-

;; For Emacs 28 with eglot installed (Debian: apt-get install elpa-eglot; or M-x
;; package-install eglot), and Emacs 29, where eglot is built in:
;;
;;   (load "/path/to/beam-live/editors/emacs/beam-live.el")
;;   (setq beam-live-server "/path/to/beam-live/dist/server.js")   ; if not beside this file
;;
;; then M-x eglot in an .ex or .erl buffer of the project (or eglot-ensure in the mode hooks).
;;   M-x beam-live-attach    attach to a running node (beamLive/attach)
;;   M-x beam-live-upgrade   upgrade now
;; A save upgrades the node (the server's default); each upgrade's one-line summary
;; (beamLive/upgradeFinished) goes to the echo area, and so does each process the purge after
;; it left in old code (beamLive/upgradePurged); diagnostics go to flymake. eglot 1.9 shows no
;; code lenses.

;;; Code:

(require 'cl-lib)
(require 'project)
(require 'eglot)

(defgroup beam-live nil "BEAM Live: hot code upgrades on save." :group 'tools)

(defcustom beam-live-server
  (expand-file-name "../../dist/server.js" (file-name-directory (or load-file-name buffer-file-name)))
  "The BEAM Live language server (dist/server.js of a BEAM Live checkout)."
  :type 'file)

(defcustom beam-live-node-program "node" "The Node.js that runs the server." :type 'string)

;; Emacs 28 has neither an Elixir nor (without Erlang's own erlang-mode) an Erlang mode: a
;; plain one lets eglot manage the buffer where none is installed.
(unless (fboundp 'elixir-mode)
  (define-derived-mode elixir-mode prog-mode "Elixir" "Elixir source, for eglot (install elixir-mode for more).")
  (add-to-list 'auto-mode-alist '("\\.exs?\\'" . elixir-mode)))
(unless (fboundp 'erlang-mode)
  (define-derived-mode erlang-mode prog-mode "Erlang" "Erlang source, for eglot (install erlang-mode for more).")
  (add-to-list 'auto-mode-alist '("\\.[eh]rl\\'" . erlang-mode)))

(add-to-list 'eglot-server-programs
             `((elixir-mode erlang-mode) . (,beam-live-node-program ,beam-live-server "--stdio")))

(defun beam-live--project (dir)
  "The Mix or rebar3 project around DIR, for a checkout without version control."
  (let ((root (or (locate-dominating-file dir "mix.exs") (locate-dominating-file dir "rebar.config"))))
    (when root (cons 'transient (expand-file-name root)))))
(add-hook 'project-find-functions #'beam-live--project 90)

(defun beam-live--request (method params)
  (jsonrpc-request (eglot--current-server-or-lose) method params))

(defun beam-live-attach (node &optional cookie-file)
  "Attach BEAM Live to NODE (name@host), reading the cookie from COOKIE-FILE if given."
  (interactive "sNode (name@host): ")
  (let ((r (beam-live--request :beamLive/attach (list :node node :cookieFile (or cookie-file :null)))))
    (message "BEAM Live: attached to %s (OTP %s)" (plist-get r :node) (plist-get r :otpRelease))))

(defun beam-live-upgrade ()
  "Upgrade the attached node now."
  (interactive)
  (message "BEAM Live: %s" (plist-get (beam-live--request :beamLive/upgradeNow nil) :summary)))

(cl-defmethod eglot-handle-notification (_server (_method (eql beamLive/upgradeFinished)) &key summary &allow-other-keys)
  (message "BEAM Live: %s" summary))

;; The soft purge after an upgrade ended: who it left in old code (the next load kills them).
(cl-defmethod eglot-handle-notification (_server (_method (eql beamLive/upgradePurged)) &key message &allow-other-keys)
  (when (stringp message)
    (dolist (line (split-string message "\n" t))
      (message "BEAM Live: %s" line))))

;; The views' notifications are for VS Code: nothing to show here.
(cl-defmethod eglot-handle-notification (_server (_method (eql beamLive/status)) &rest _) nil)
(cl-defmethod eglot-handle-notification (_server (_method (eql beamLive/upgradeStarted)) &rest _) nil)

(provide 'beam-live)
;;; beam-live.el ends here
