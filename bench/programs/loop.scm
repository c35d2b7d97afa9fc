;; A tail-recursive loop of 10,000,000 iterations summing 0..9,999,999.
;; Expected output: 49999995000000
(define (loop i n acc)
  (if (= i n) acc (loop (+ i 1) n (+ acc i))))
(display (loop 0 10000000 0))
(newline)
