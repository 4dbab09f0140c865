DROP TABLE api_key_days;
