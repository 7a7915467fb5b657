package handlers_test

import "regexp"

var csrfValue = regexp.MustCompile(`(name="_csrf" value="|X-CSRF-Token&#34;:&#34;)[^"&]+`)
