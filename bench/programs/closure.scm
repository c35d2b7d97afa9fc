;; Closure-heavy code: for each i in 0 .. 999,999 create two adder closures,
;; compose them into a third closure and call it; sum the results.
;; Each iteration yields (i + 1) + i, so the sum is 10^12.
;; Expected output: 1000000000000
(define (make-adder n) (lambda (x) (+ x n)))
(define compose (lambda (f g) (lambda (x) (f (g x)))))
(define (run i n acc)
  (if (= i n) acc (run (+ i 1) n (+ acc ((compose (make-adder i) (make-adder 1)) i)))))
(display (run 0 1000000 0))
(newline)
