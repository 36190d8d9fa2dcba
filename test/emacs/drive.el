;;; drive.el --- Emacs in batch through BEAM Live's eglot configuration  -*- lexical-binding: t -*-
;; Open the GenServer, start eglot, beam-live-attach, replace the text and save, then a compile
;; error; what Emacs saw goes to $BEAM_LIVE_EMACS_OUT as JSON; the test checks the node itself.
(require 'json)
(defvar drive-out nil)
(defun drive-messages () (with-current-buffer "*Messages*" (buffer-string)))
(defun drive-finish (&optional failed)
  (with-temp-file (getenv "BEAM_LIVE_EMACS_OUT")
    (insert (json-encode (list (cons 'failed failed) (cons 'messages (drive-messages)) (cons 'diagnostics drive-out)))))
  (kill-emacs 0))
(defun drive-wait (what secs pred)
  (let ((end (+ (float-time) secs)))
    (while (and (not (funcall pred)) (< (float-time) end))
      (accept-process-output nil 0.1))
    (unless (funcall pred) (drive-finish what))))
(defun drive-replace (file)
  (erase-buffer)
  (insert-file-contents file)
  (save-buffer))

(condition-case err
    (progn
      (find-file (getenv "BEAM_LIVE_EMACS_FILE"))
      (apply #'eglot (eglot--guess-contact))
      (drive-wait "the server started" 30 (lambda () (eglot-current-server)))
      (beam-live-attach (getenv "BEAM_LIVE_EMACS_NODE") (getenv "BEAM_LIVE_EMACS_COOKIE"))
      (drive-replace (getenv "BEAM_LIVE_EMACS_V2"))
      (drive-wait "the save upgraded the node" 60 (lambda () (string-match-p "BEAM Live: Upgraded" (drive-messages))))
      (drive-replace (getenv "BEAM_LIVE_EMACS_BROKEN"))
      (drive-wait "a compile error shows in flymake" 60
                  (lambda ()
                    (flymake-start)
                    (setq drive-out (mapcar (lambda (d) (list (cons 'line (line-number-at-pos (flymake-diagnostic-beg d)))
                                                              (cons 'type (symbol-name (flymake-diagnostic-type d)))
                                                              (cons 'text (flymake-diagnostic-text d))))
                                            (flymake-diagnostics)))
                    (cl-some (lambda (d) (equal (cdr (assq 'type d)) "eglot-error")) drive-out)))
      (drive-finish))
  (error (drive-finish (format "%S" err))))
