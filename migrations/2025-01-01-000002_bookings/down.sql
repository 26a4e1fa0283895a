DROP TABLE contacts;
DROP TABLE otp_challenges;
DROP TABLE bookings;
