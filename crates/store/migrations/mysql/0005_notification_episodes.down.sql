DROP TABLE notification_episodes;
