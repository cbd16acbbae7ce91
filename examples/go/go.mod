module dwhatsapp

go 1.19
