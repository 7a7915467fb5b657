package components

import (
	"fmt"
	"strings"
)

// orgDepthClass indents an organization of the Organizations page under its parent: the
// first level below the admin's account is not indented, deeper ones are, up to four.
func orgDepthClass(depth int) string {
	return fmt.Sprintf("org-depth-%d", min(max(depth, 1), 4))
}

// backName names the page a bulk result leads back to, for its breadcrumb: the
// Organizations page, or the list the selection was made on.
func backName(back string) string {
	if strings.HasPrefix(back, "/organizations") {
		return "Organizations"
	}
	return "All Contacts"
}
