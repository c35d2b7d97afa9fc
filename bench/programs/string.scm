;; String building: make 200,000 pieces "k<i>=<i*i>", join them with ";"
;; (string-join) and print the piece count and the length of the result.
;; Expected output: 200000 3742640
(define pieces
  (map (lambda (i)
         (string-append "k" (number->string i) "=" (number->string (* i i))))
       (iota 200000)))
(define s (string-join pieces ";"))
(display (length pieces))
(display " ")
(display (string-length s))
(newline)
