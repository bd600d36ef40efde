# Checks every loop bound (the right operand of each `icmp slt`) in LLVM IR:
# it must be a constant, the kernel's %n, or a value defined in the same
# function as `mul nuw nsw i64 %n, CONSTANT` or `udiv i64 %n, CONSTANT`, or
# a multiple of such a `udiv` (where a remainder loop starts), or the %end
# of the range a thread runs of a parallel loop. Prints each
# other bound and
# exits 1; exits 1 too if no bound was seen at all.
/^define / { delete rows }
/= mul nuw nsw i64 %n, [0-9]+$/ { rows[$1] = 1 }
/= udiv i64 %n, [0-9]+$/ { rows[$1] = 1 }
/^define .*, i64 %begin, i64 %end\)/ { rows["%end"] = 1 }
/icmp slt/ {
  seen++
  bound = $NF
  if ($0 !~ /icmp slt i64 %[A-Za-z0-9.]+, [^ ]+$/ ||
      (bound != "%n" && bound !~ /^[0-9]+$/ && !(bound in rows))) {
    print "unexpected loop bound: " $0
    bad = 1
  }
}
END { exit (bad || !seen) }
