package interop

import "testing"

// scenarios lists the matrix rows in the order they run and print.
func scenarios() []scenario {
	row := func(name string, o2f, f2o func(*testing.T, *suite)) scenario {
		return scenario{name: name, run: map[string]func(*testing.T, *suite){oursToOfficial: o2f, officialToOurs: f2o}}
	}
	return []scenario{
		row("01 key-registration", keyRegistrationO2F, keyRegistrationF2O),
		row("02 1:1 key change + first", keyChangeO2F, keyChangeF2O),
		row("03 text with entities", entitiesO2F, entitiesF2O),
		row("04 unicode + 10k chars", unicodeO2F, unicodeF2O),
		row("05 empty text + attachment", attachmentO2F, attachmentF2O),
		row("06 reply", replyO2F, replyF2O),
		row("07 reply to older key", replyOldKeyO2F, replyOldKeyF2O),
		row("08 forged reply preview", forgedPreviewO2F, forgedPreviewF2O),
		row("09 reactions add/remove", reactionsO2F, reactionsF2O),
		row("10 edit", editO2F, editF2O),
		row("11 delete (action sig)", deleteO2F, deleteF2O),
		row("12 group create (3)", groupCreateO2F, groupCreateF2O),
		row("13 group add + rotation", groupAddO2F, groupAddF2O),
		row("14 media sizes", mediaSizesO2F, mediaSizesF2O),
		row("15 media truncated", mediaTruncatedO2F, mediaTruncatedF2O),
		row("16 tamper: ciphertext bit", tamperFlipO2F, tamperFlipF2O),
		row("17 tamper: swapped sig", tamperSwapO2F, tamperSwapF2O),
		row("18 tamper: key version", tamperKeyVersionO2F, tamperKeyVersionF2O),
		row("19 tamper: sig version 1", tamperSigV1O2F, tamperSigV1F2O),
		row("20 ttl + silent", ttlSilentO2F, ttlSilentF2O),
		row("21 group title (metadata)", groupTitleO2F, groupTitleF2O),
		row("22 xchat CLI", cliO2F, cliF2O),
		row("23 peer re-registers keys", reregisterO2F, reregisterF2O),
		row("24 long history (paged)", longHistoryO2F, longHistoryF2O),
		row("25 admin adds to titled group", groupAdminAddO2F, groupAdminAddF2O),
		row("26 high-S signatures", highSO2F, highSF2O),
		row("27 media reply", mediaReplyO2F, mediaReplyF2O),
		row("28 media caption + entities", mediaEntitiesO2F, mediaEntitiesF2O),
		row("29 media silent", mediaSilentO2F, mediaSilentF2O),
		row("30 media + every option", mediaAllO2F, mediaAllF2O),
	}
}
