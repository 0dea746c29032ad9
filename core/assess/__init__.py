"""Assessment (考核 / 综合评价): indicators, formulas, scores and rankings."""
