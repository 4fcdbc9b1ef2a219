"""Text and image generation: an offline default and an OpenAI-compatible implementation each."""
