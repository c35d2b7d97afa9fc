;; Non-tail recursion 1,000,000 frames deep (reference for the memory row).
;; Expected output: 1000000
(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1)))))
(display (deep 1000000))
(newline)
