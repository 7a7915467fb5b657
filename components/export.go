package components

import "strconv"

// formatThousands writes n with thousands separators (10,000), as the menu shows limits.
func formatThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
