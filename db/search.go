package db

import "strings"

// Search reads one column, contacts.search_text: the words of a contact's first name, last
// name and email, folded by searchWords (keys.go) and written as " word word ... ". The FTS5
// index over it uses the ascii tokenizer, which splits on ASCII punctuation and spaces only,
// so its tokens are exactly these words: what FTS5 matches and what a plain substring test
// on the column matches are the same thing, which lets a common word be found by walking
// the sorted index instead of collecting all of its matches (see ListContacts).

// searchPhrases turns what a user typed into phrases of folded words, at most maxTerms of
// them: each typed word is one phrase ("anna.k" is the phrase "anna k"), and a contact
// matches when every phrase starts a run of its words.
func searchPhrases(input string) []string {
	const maxTerms, maxPhraseRunes = 8, 64
	var phrases []string
	for _, typed := range strings.Fields(input) {
		words := searchWords(typed)
		if len(words) == 0 {
			continue
		}
		phrase := strings.Join(words, " ")
		if r := []rune(phrase); len(r) > maxPhraseRunes {
			phrase = strings.TrimSpace(string(r[:maxPhraseRunes]))
		}
		if phrases = append(phrases, phrase); len(phrases) == maxTerms {
			break
		}
	}
	return phrases
}

// SearchQuery turns what a user typed into a safe FTS5 MATCH expression: every phrase
// becomes a quoted prefix phrase ("zoe"*), all of them must match. Only folded letters and
// digits survive inside the quotes, so quotes, NEAR(, *, -, parentheses or column filters
// typed by the user can never reach the FTS5 parser as syntax. Empty when nothing
// searchable was typed.
func SearchQuery(input string) string {
	phrases := searchPhrases(input)
	for i, p := range phrases {
		phrases[i] = `"` + p + `"*`
	}
	return strings.Join(phrases, " ")
}

// searchNeedles are the substrings of search_text that the phrases of input match, in the
// same order: " anna k" is found in " anna kowalski ..." exactly when FTS5 matches the
// prefix phrase "anna k"*.
func searchNeedles(input string) []string {
	phrases := searchPhrases(input)
	for i, p := range phrases {
		phrases[i] = " " + p
	}
	return phrases
}
