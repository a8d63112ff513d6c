# -*- coding: latin-1 -*-
# Auteur: René Müller -- this comment is Latin-1, not UTF-8.

GREETING = "Grüße aus München, café crème"


def shout(text):
    # naïve upper-casing
    return text.upper() + "!"


print(shout(GREETING))
