"""Prompt of the sensitivity classifier (design seed 002). Formatted at call time; a test checks the placeholders."""

#: The seed's memory classification prompt (``_classify_with_openai``), for structured output.
#: Placeholders: message.
SENSITIVITY_PROMPT = """You are an expert memory classification system for an AI companion. Classify the user's
message into exactly one of these categories:

1. general: facts, preferences, opinions, general information, small talk
2. chronological: events, experiences and activities with a time context
3. confidential: personal, private information (health, money, family or relationship trouble, contact details)
4. secret: highly sensitive, restricted information the user keeps from others (never told anyone, affairs,
   crimes, self-harm, addiction)
5. ultrasecret: maximum security information: passwords, PINs, card or account numbers, identity document numbers,
   private keys, security answers, biometric data

Consider context, emotional tone and sensitivity. When two categories fit, choose the more sensitive one.
Give your confidence from 0.0 to 1.0, a brief reasoning, up to 5 short topic tags (for example work, family,
health, finance, travel, food) and the sentiment (positive, negative, neutral or mixed).

Message: "{message}"
"""
