;; Build a list of 1,000,000 integers (0 .. 999,999) and fold it with a
;; lambda that sums it (iota and SRFI-1 fold). Prints the length and the sum.
;; Expected output: 1000000 499999500000
(use-modules (srfi srfi-1))
(define xs (iota 1000000))
(display (length xs))
(display " ")
(display (fold (lambda (x acc) (+ acc x)) 0 xs))
(newline)
