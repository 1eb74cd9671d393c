package upstream

// The one id rule. Every id the gateway puts into an Intercom URL path passes ValidID twice: in the
// service package, where a bad id becomes a field violation naming the field, and in pathf, which
// refuses to build a URL from any other segment (defence in depth: a caller of this package that
// skips validation still cannot address another endpoint).
//
// Why this shape: Intercom's ids are numeric strings ("1295") or hex object ids
// ("6762f2d81bb69f9f2193bc54"), see the `id` properties of the ticket, contact, tag and admin schemas
// in https://developers.intercom.com/docs/references/rest-api/api.intercom.io. The first character
// must be a letter or a digit so that no id can be a dot segment ("." or ".."): url.PathEscape keeps
// dots as they are, and anything on the way that normalises paths (RFC 3986 §5.2.4 remove_dot_segments,
// a proxy, path.Clean) would turn DELETE /tickets/4002/tags/.. into DELETE /tickets/4002. '/', '%',
// '?', '#', ';' and whitespace are outside the alphabet, so an id is always exactly one segment and
// never needs escaping.

// MaxIDLength is the longest id accepted; Intercom's are at most 24 characters.
const MaxIDLength = 128

// IDRule describes ValidID for error messages.
const IDRule = "letters, digits, '_', '-', '.' and ':', starting with a letter or digit, at most 128 characters"

// ValidID reports whether s is an id the gateway will put into an Intercom URL path (see IDRule).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '-' && c != '.' && c != ':' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
