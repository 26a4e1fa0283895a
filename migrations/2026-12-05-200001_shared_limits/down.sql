DROP TABLE test_texts;
