DROP TABLE mfa_challenges;
